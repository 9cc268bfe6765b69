"""Resume: an interrupted experiment redoes only what had not finished and ends bit-identical to an uninterrupted
one; a changed arm retrains that arm only; changed folds or inputs start afresh; a foreign record is never read."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import music_emotion.gan.fitting as gan_fitting
import music_emotion.study.arm_fitting as arm_fitting
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.pipelines.experiment.nodes import plan_experiment
from music_emotion.study import unit_records
from music_emotion.study.folds import assign_folds, experiment_parameters
from music_emotion.study.unit_records import UnitRecord, UnitRecordStore
from tests.conf_params import parameters
from tests.pipelines.experiment.test_experiment import EXPERIMENT, corpus, experiment_runner
from tests.pipelines.training.conftest import TINY_OVERRIDES as VIT

ARMS = ["ridge", "real_only", "gan"]
STORE = Path("07_model_output") / "experiment_units"


class Interrupted(RuntimeError):
    pass


@pytest.fixture
def counted(monkeypatch):
    """Counts ViT trainings and GAN trainings; `fail_after[0] = n` makes the (n+1)-th ViT training raise."""
    calls = {"vit": 0, "gan": 0}
    fail_after = [None]
    train_regressor, train_gan = arm_fitting.train_regressor, gan_fitting.train_conditional_gan

    def counting_regressor(*args, **kwargs):
        if fail_after[0] is not None and calls["vit"] >= fail_after[0]:
            raise Interrupted("the machine went away")
        calls["vit"] += 1
        return train_regressor(*args, **kwargs)

    def counting_gan(*args, **kwargs):
        calls["gan"] += 1
        return train_gan(*args, **kwargs)

    monkeypatch.setattr(arm_fitting, "train_regressor", counting_regressor)
    monkeypatch.setattr(gan_fitting, "train_conditional_gan", counting_gan)
    return calls, fail_after


def records_in(root: Path) -> list[Path]:
    """The record files (not the kept models' config files)."""
    return sorted(path for path in (root / STORE).glob("*/*/*.json"))


def test_an_interrupted_run_redoes_only_unfinished_results_and_equals_an_uninterrupted_one(
        monkeypatch, tmp_path, counted, caplog):
    calls, fail_after = counted
    pipeline, run = experiment_runner(monkeypatch, ARMS)
    torch.set_num_threads(1)
    mel, labels = corpus(36)
    whole = run(tmp_path / "whole", mel_spectrograms=mel, emotion_labels=labels)
    assert calls == {"vit": 6, "gan": 3} and len(records_in(tmp_path / "whole")) == 9  # 3 folds x 3 arms

    calls.update(vit=0, gan=0)
    fail_after[0] = 3  # the 4th of 6 ViT trainings dies
    with pytest.raises(Exception, match="the machine went away"):
        run(tmp_path / "resumed", mel_spectrograms=mel, emotion_labels=labels)
    survived = records_in(tmp_path / "resumed")
    recorded_vits = sum(1 for path in survived if path.parent.name in ("real_only", "gan"))
    assert 0 < len(survived) < 9 and recorded_vits == 3

    calls.update(vit=0, gan=0)
    fail_after[0] = None
    caplog.set_level(logging.INFO, logger="music_emotion.pipelines.experiment.resume")
    resumed = run(tmp_path / "resumed", mel_spectrograms=mel, emotion_labels=labels)
    assert calls["vit"] == 6 - recorded_vits  # nothing recorded is trained again
    gan_units_done = {path.parents[1].name for path in survived if path.parent.name == "gan"}
    assert calls["gan"] == 3 - len(gan_units_done)
    assert f"{len(survived)} already recorded" in caplog.text and f"{9 - len(survived)} to train" in caplog.text
    for name in ("experiment_predictions", "experiment_metrics", "experiment_comparison"):
        before, after = whole.load(name), resumed.load(name)
        if name == "experiment_metrics":  # wall-clock seconds differ between any two runs; all else is equal
            before, after = before.drop(columns="seconds"), after.drop(columns="seconds")
        pd.testing.assert_frame_equal(before, after, check_exact=True)


@pytest.mark.slow  # a whole tiny experiment (twice): CI runs it with -m slow
def test_a_changed_arm_retrains_that_arm_only_and_display_settings_retrain_nothing(monkeypatch, tmp_path, counted):
    calls, _ = counted
    torch.set_num_threads(1)
    mel, labels = corpus(36)
    _, run = experiment_runner(monkeypatch, ARMS)
    run(tmp_path, mel_spectrograms=mel, emotion_labels=labels)
    first = set(records_in(tmp_path))

    arms = parameters("arms")
    arms["gan"]["label"], arms["gan"]["colour"] = "renamed", "#000000"  # how figures show it: nothing to retrain
    training = parameters("training", **VIT)
    training["augmentations"]["specaugment"]["time_masks"] = 7  # no arm of this run uses it
    calls.update(vit=0, gan=0)
    run(tmp_path, mel_spectrograms=mel, emotion_labels=labels, **{"params:arms": arms, "params:training": training})
    assert calls == {"vit": 0, "gan": 0} and set(records_in(tmp_path)) == first

    ridge = {"alphas": [3.0]}
    run(tmp_path, mel_spectrograms=mel, emotion_labels=labels, **{"params:training.baselines.ridge": ridge})
    added = set(records_in(tmp_path)) - first
    assert calls == {"vit": 0, "gan": 0} and {p.parent.name for p in added} == {"ridge"} and len(added) == 3


def plan_for(store, mel, labels, n_folds=3, resume=True):
    params = {**EXPERIMENT, "n_folds": n_folds, "arms": ARMS, "resume": resume, "keep_models": False}
    folds = assign_folds(mel, labels, params, 42, 8, 8)
    training, generators = experiment_parameters(parameters("training"), parameters("gan_augmentation"),
                                                 parameters("diffusion_augmentation"), params)
    return plan_experiment(folds, training, generators, parameters("arms"), training["baselines"]["ridge"],
                           generators["gan"]["generation"], params, store, mel, labels, arms=tuple(ARMS))


def record_everything(store, plan):
    for unit, arms in plan["units"].items():
        for arm, entry in arms.items():
            test = entry["material"]["songs"]["test"]
            record = UnitRecord(unit, arm, entry["key"], pd.DataFrame({"song_id": test, "valence_pred": 0.5}),
                                {"arm": arm, "seconds": float("nan")})
            store.save(record, entry["material"])


def test_changed_folds_inputs_or_resume_false_start_afresh(tmp_path):
    store = UnitRecordStore(tmp_path / "units")
    mel, labels = corpus(40)
    plan = plan_for(store, mel, labels)
    assert plan["recorded"] == 0 and plan["total"] == 9
    record_everything(store, plan)
    assert plan_for(store, mel, labels)["recorded"] == 9
    assert plan_for(store, mel, labels, n_folds=4)["recorded"] == 0
    changed = np.array(mel.values)
    changed[5, 0, 0] += 1.0  # one value of one song
    assert plan_for(store, SpectrogramSet(mel.ids, changed, mel.meta), labels)["recorded"] == 0
    relabelled = labels.assign(valence=labels.valence.where(labels.index != 3, 0.123))
    assert plan_for(store, mel, relabelled)["recorded"] == 0
    assert plan_for(store, mel, labels, resume=False)["recorded"] == 0


def _recorded_ridge(tmp_path):
    """A store with every result recorded: (store, mel, labels, the ridge's plan entry in seed0_fold1, its file)."""
    store = UnitRecordStore(tmp_path / "units")
    mel, labels = corpus(40)
    plan = plan_for(store, mel, labels)
    record_everything(store, plan)
    entry = plan["units"]["seed0_fold1"]["ridge"]
    return store, mel, labels, entry, tmp_path / "units" / "seed0_fold1" / "ridge" / f"{entry['key']}.json"


def test_a_record_written_for_other_settings_is_never_read(tmp_path, caplog):
    store, mel, labels, entry, path = _recorded_ridge(tmp_path)
    body = json.loads(path.read_text())
    body["material"]["seed"] = 7  # a whole record of another configuration under this key's name
    body["checksum"] = unit_records._checksum(body)
    path.write_text(json.dumps(body))
    with caplog.at_level(logging.WARNING):
        again = plan_for(store, mel, labels)
    assert again["recorded"] == 8 and not again["units"]["seed0_fold1"]["ridge"]["done"]
    assert str(path) in caplog.text and "other settings" in caplog.text
    path.write_text(path.read_text()[:20])  # a torn file (not ours: records are written atomically)
    assert not plan_for(store, mel, labels)["units"]["seed0_fold1"]["ridge"]["done"]


def test_a_record_reads_back_bit_identically(tmp_path):
    store = UnitRecordStore(tmp_path)
    values = np.random.default_rng(0).normal(size=(5, 2))
    predictions = pd.DataFrame({"song_id": np.arange(5), "fold": 2, "seed": 43, "arm": "gan",
                                "valence_true": values[:, 0] / 3, "arousal_true": values[:, 1] * np.pi,
                                "valence_pred": values[:, 0], "arousal_pred": values[:, 1]})
    facts = {"arm": "gan", "seconds": float("nan"), "steps": 12, "gan_conditioning_ccc_valence": 0.1 + 0.2}
    material = {"seed": 43, "songs": {"test": list(range(5))}}
    store.save(UnitRecord("seed1_fold2", "gan", "k", predictions, facts), material)
    back = store.find("seed1_fold2", "gan", "k", material)
    pd.testing.assert_frame_equal(back.predictions, predictions, check_exact=True)
    assert back.resumed and back.facts["steps"] == 12 and np.isnan(back.facts["seconds"])
    assert back.facts["gan_conditioning_ccc_valence"] == 0.1 + 0.2
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.slow  # a whole tiny experiment (twice): CI runs it with -m slow
def test_no_fitted_model_is_handed_between_nodes(monkeypatch, tmp_path):
    """Kedro runs a pipeline level by level: a model passed from a fitting node to a scoring node would wait in
    memory until every unit's fitting level was done (7 arms x 15 units of ViT-B/16 on DEAM). Every dataset the
    run produced (kept here, none released) holds records, splits or tables: never a model or a GAN sample set."""
    from torch import nn

    _, run = experiment_runner(monkeypatch, ARMS)
    torch.set_num_threads(1)
    mel, labels = corpus(36)
    catalog = run(tmp_path, mel_spectrograms=mel, emotion_labels=labels)
    produced = {name: catalog.load(name) for name in catalog.keys() if name.startswith("seed")}
    assert produced and not [name for name, value in produced.items()
                             if isinstance(value, nn.Module | SpectrogramSet) or "model" in name]
    assert sum(isinstance(value, UnitRecord) for value in produced.values()) == 9


def _rewrite(path, change, keep_checksum=False):
    body = json.loads(path.read_text())
    change(body)
    if keep_checksum:  # as a careful forger would: the content is whole, only its rows are wrong
        body["checksum"] = unit_records._checksum(body)
    path.write_text(json.dumps(body))


def _replace_first_prediction(body):
    body["predictions"]["data"][0][1] = 0.999  # one fold's prediction replaced, the JSON still valid


def _duplicate_first_row(body):
    body["predictions"]["data"].append(body["predictions"]["data"][0])


@pytest.mark.parametrize("change, keep_checksum, said", [
    (_replace_first_prediction, False, "does not match its checksum"),
    (_duplicate_first_row, False, "does not match its checksum"),
    (_duplicate_first_row, True, "more than once"),
    (lambda body: body.pop("checksum"), False, "carries no checksum"),
])
def test_a_changed_or_malformed_record_is_named_and_retrained(tmp_path, caplog, change, keep_checksum, said):
    store, mel, labels, entry, path = _recorded_ridge(tmp_path)
    _rewrite(path, change, keep_checksum)
    with caplog.at_level(logging.WARNING):
        again = plan_for(store, mel, labels)
    assert again["recorded"] == 8 and not again["units"]["seed0_fold1"]["ridge"]["done"]
    assert str(path) in caplog.text and said in caplog.text
    assert store.find("seed0_fold1", "ridge", entry["key"], entry["material"]) is None


def test_a_killed_record_writes_leftover_is_removed_and_a_live_writers_is_kept(tmp_path):
    import subprocess
    import sys

    store = UnitRecordStore(tmp_path / "units")
    folder = tmp_path / "units" / "seed0_fold1" / "ridge"
    folder.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    writer = unit_records._writer().rsplit("-", 1)[0]
    (folder / f".abc.{writer}-{dead}.x1.tmp").write_text("{")           # its writer is gone
    (folder / f".abc.{unit_records._writer()}.x2.tmp").write_text("{")  # this process: alive
    (folder / ".abc.otherhost-1.x3.tmp").write_text("{")                 # another machine's: never judged here
    assert store.remove_stale_temporaries() == 1
    assert sorted(p.name.split(".")[3] for p in folder.iterdir()) == ["x2", "x3"]
