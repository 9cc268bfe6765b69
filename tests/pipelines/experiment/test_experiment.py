"""experiment: folds partition the songs, nothing fitted in a fold sees its test songs, and the paired
comparison finds a built-in gain and no difference between identical arms."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.datasets import RunLineageDataset
from music_emotion.framework.running import run_parameters
from music_emotion.models.base import load_pretrained_model
from music_emotion.pipelines.experiment import create_pipeline
from music_emotion.pipelines.experiment.nodes import aggregate_experiment
from music_emotion.report.comparison import verdict
from music_emotion.report.figures.experiment import plot_experiment_deltas
from music_emotion.study.folds import assign_folds, fold_splits
from music_emotion.study.statistics import corrected_resampled_t_test, holm
from music_emotion.study.unit_records import UnitRecord
from tests.catalog_config import catalog_entries_for
from tests.conf_params import mel_config, parameters
from tests.pipelines.diffusion_augmentation.conftest import tiny_flow_parameters
from tests.pipelines.gan_augmentation.conftest import TINY_OVERRIDES as GAN_OVERRIDES
from tests.pipelines.training.conftest import TINY_OVERRIDES as VIT_OVERRIDES
from tests.pipelines.training.conftest import brightness_spectrograms


class KeptMemoryDataset(MemoryDataset):
    """A MemoryDataset the runner does not release, so the test can inspect every fold's splits and records."""

    def _release(self) -> None:
        pass


EXPERIMENT = parameters("experiment", n_folds=3, n_seeds=1, n_resamples=200)


def kept_model(root: Path, unit: str, arm: str):
    """The model an experiment run with `keep_models` kept for `arm` in `unit` (`gan_generator`: the fold's GAN)."""
    (folder,) = (root / "07_model_output" / "experiment_units" / unit / arm).glob("*.model")
    baseline = folder / "baseline.json"
    return json.loads(baseline.read_text()) if baseline.exists() else load_pretrained_model(folder)


def corpus(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = list(range(100, 100 + n))
    targets = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    extraction = mel_config(sample_rate=22050, hop_length=512, n_mels=16, top_db=80.0, ref="max",
                            duration=30.0).to_dict()
    mel = SpectrogramSet(ids=ids, values=brightness_spectrograms(targets, seed + 1), meta={"extraction": extraction})
    labels = pd.DataFrame({"song_id": ids, "valence": targets[:, 0], "arousal": targets[:, 1]})
    return mel, labels


@pytest.mark.parametrize("n_seeds", [1, 2])
def test_folds_partition_the_songs_and_keep_val_and_test_apart(n_seeds):
    mel, labels = corpus()
    folds = assign_folds(mel, labels, {**EXPERIMENT, "n_seeds": n_seeds}, 42, 8, 8)
    for seed_index in range(n_seeds):
        test = folds[(folds.seed_index == seed_index) & (folds.part == "test")]
        assert sorted(test["song_id"]) == sorted(mel.ids)  # each song in exactly one test fold
        for fold in range(3):
            splits, seed = fold_splits(folds, seed_index, fold)
            assert seed == 42 + seed_index
            assert not set(splits["train"]) & set(splits["val"]) and not set(splits["train"]) & set(splits["test"])
            assert set(splits["train"]) | set(splits["val"]) | set(splits["test"]) == set(mel.ids)
    if n_seeds == 2:  # another seed reshuffles the folds
        first, second = (folds[(folds.seed_index == s) & (folds.fold == 0) & (folds.part == "test")] for s in (0, 1))
        assert set(first.song_id) != set(second.song_id)


def test_too_many_folds_for_a_quadrant_or_a_batch_is_a_clear_error():
    mel, labels = corpus(24)
    with pytest.raises(ValueError, match="experiment.n_folds = 20 is larger than"):
        assign_folds(mel, labels, {**EXPERIMENT, "n_folds": 20}, 42, 8, 8)
    with pytest.raises(ValueError, match="training.optimisation.batch_size = 64"):
        assign_folds(mel, labels, EXPERIMENT, 42, 64, 8)


def predictions_with(arms: dict[str, np.ndarray], y: np.ndarray, folds: np.ndarray, seed: int = 42) -> dict:
    """Per-(fold, arm) records, as `evaluate_arm` writes them, for arms given as (n, 2) arrays."""
    records = {}
    for fold in np.unique(folds):
        rows = folds == fold
        for arm, pred in arms.items():
            predictions = pd.DataFrame({"song_id": np.flatnonzero(rows), "fold": fold, "seed": seed, "arm": arm,
                                        "valence_true": y[rows, 0], "arousal_true": y[rows, 1],
                                        "valence_pred": pred[rows, 0], "arousal_pred": pred[rows, 1]})
            facts = {"arm": arm, "fold": fold, "seed": seed, "epochs": 1, "steps": 1, "seconds": 0.0,
                     "n_train_songs": int((~rows).sum()), "n_test_songs": int(rows.sum())}
            records[f"record__u{fold}__{arm}"] = UnitRecord(f"u{fold}", arm, "key", predictions, facts)
    return records


def test_an_arm_built_to_be_better_wins_and_an_identical_arm_ties():
    rng = np.random.default_rng(0)
    y = rng.uniform(-1, 1, size=(200, 2))
    real_only = y + rng.normal(0, 0.6, size=y.shape)
    oracle = y + rng.normal(0, 0.1, size=y.shape)  # "given the true labels as a feature"
    tables = predictions_with({"real_only": real_only, "oracle": oracle, "twin": real_only.copy()}, y,
                              np.arange(200) % 5)
    predictions, metrics, comparison = aggregate_experiment(EXPERIMENT, **tables)
    assert len(predictions) == 600 and set(metrics["fold"]) == {0, 1, 2, 3, 4, "pooled"}
    ccc = comparison[comparison.metric == "ccc"].set_index(["arm", "target"])
    for target in ("valence", "arousal"):
        better = ccc.loc[("oracle", target)]
        assert (better["difference"] > 0.2 and better["ci_low"] <= better["difference"] <= better["ci_high"]
                and better["ci_low"] > 0 and better["p_value"] < 0.01)
        twin = ccc.loc[("twin", target)]
        assert (twin["difference"] == 0 and twin["p_holm"] == 1 and twin["ci_low"] == twin["ci_high"] == 0
                and twin["p_value"] == 1)
    assert "evidence of a gain" in verdict(ccc.loc[("oracle", "valence")].to_dict() | {
        "arm": "oracle", "target": "valence"}, 0.05)
    assert "no evidence" in verdict(ccc.loc[("twin", "valence")].to_dict() | {"arm": "twin", "target": "valence"}, 0.05)


def test_a_fold_with_missing_predictions_is_reported_not_dropped():
    rng = np.random.default_rng(0)
    y = rng.uniform(-1, 1, size=(50, 2))
    tables = predictions_with({"real_only": y, "gan": y}, y, np.arange(50) % 5)
    tables["record__u3__gan"].predictions = tables["record__u3__gan"].predictions.iloc[:0]
    with pytest.raises(ValueError, match="missing or non-finite predictions"):
        aggregate_experiment(EXPERIMENT, **tables)


def test_corrected_t_test_is_wider_than_the_naive_one():
    d = np.array([0.02, 0.03, 0.01, 0.04, 0.02, 0.03, 0.00, 0.05, 0.01, 0.02])
    t_naive, _ = corrected_resampled_t_test(d, 0.0)
    t, p = corrected_resampled_t_test(d, 0.25)  # 5 folds: test/train = 1/4
    assert t == pytest.approx(d.mean() / np.sqrt((1 / 10 + 0.25) * d.var(ddof=1)))
    assert 0 < t < t_naive and 0 < p < 1


def experiment_runner(monkeypatch, arms: list[str]):
    """(pipeline, run) of the experiment for 3 folds x 1 seed and `arms`, with tiny models; `run(root, **inputs)`
    runs it on in-memory inputs (mel_spectrograms, emotion_labels, ast_features) and keeps every fold's models."""
    params = dict(run_parameters.run_parameters())
    params.update(experiment={**EXPERIMENT, "arms": arms, "keep_models": True})
    monkeypatch.setitem(run_parameters._current, "parameters", params)
    pipeline = create_pipeline()
    values = {
        "params:training": parameters("training", **VIT_OVERRIDES),
        "params:gan_augmentation": parameters("gan_augmentation", **GAN_OVERRIDES),
        "params:diffusion_augmentation": tiny_flow_parameters(**{"training.steps": 40}),
        "params:experiment": params["experiment"], "params:seed": 42, "params:device": "cpu",
        "params:reporting": parameters("reporting"), "params:arms": parameters("arms"),
        **{f"params:arms.{name}": spec for name, spec in parameters("arms").items()},
    }
    values["params:training.baselines.ridge"] = values["params:training"]["baselines"]["ridge"]
    values["params:training.probe"] = values["params:training"]["probe"]
    values["params:training.optimisation.batch_size"] = values["params:training"]["optimisation"]["batch_size"]
    values["params:gan_augmentation.training.batch_size"] = values["params:gan_augmentation"]["training"]["batch_size"]
    values["params:gan_augmentation.generation"] = values["params:gan_augmentation"]["generation"]

    def run(root, **inputs):
        catalog = DataCatalog.from_config(catalog_entries_for(pipeline, root=root, also=("experiment_unit_records",)))
        for name, value in {**values, **inputs}.items():
            catalog[name] = MemoryDataset(value, copy_mode="assign")
        catalog["run_lineage"] = RunLineageDataset()
        for name in pipeline.all_outputs():  # keep every fold's fitted models for inspection
            if name not in catalog:
                catalog[name] = KeptMemoryDataset(copy_mode="assign")
        SequentialRunner().run(pipeline, catalog)
        return catalog

    return pipeline, run


@pytest.fixture
def tiny_experiment(monkeypatch):
    """The experiment with arms ridge, real_only and gan; `run(mel, labels, root)`."""
    pipeline, run = experiment_runner(monkeypatch, ["ridge", "real_only", "gan"])
    return pipeline, lambda mel, labels, root: run(root, mel_spectrograms=mel, emotion_labels=labels)


def test_experiment_runs_every_fold_and_arm_and_never_fits_on_a_test_song(tiny_experiment, tmp_path):
    """Poison fold 0's test songs: every model fitted in fold 0 (GAN, ridge, ViT incl. its normalisation)
    must come out bit-identical, and the poisoned songs must show up only in fold 0's predictions."""
    pipeline, run = tiny_experiment
    torch.set_num_threads(1)
    mel, labels = corpus(36)
    clean = run(mel, labels, tmp_path / "clean")
    comparison = clean.load("experiment_comparison")
    assert set(comparison["arm"]) == {"ridge", "gan"} and set(comparison["reference"]) == {"real_only"}
    predictions = clean.load("experiment_predictions")
    assert sorted(predictions.loc[predictions.arm == "gan", "song_id"]) == sorted(mel.ids)
    summary = clean.load("experiment_summary")
    assert summary.count(" vs real_only: ") == 4  # 2 arms x 2 targets
    assert "The folds' GANs (kept steps" in summary  # whether the GAN arm's samples carried their labels
    assert clean.load("experiment_metrics")["gan_conditioning_ccc_valence"].notna().any()
    assert (tmp_path / "clean" / "08_reporting" / "experiment_deltas_plot.png").is_dir()

    test_ids = clean.load("seed0_fold0.song_splits")["test"]
    poisoned_values = np.array(mel.values)
    poisoned_values[mel.indices_of(test_ids)] = np.random.default_rng(9).uniform(-80, 0, (len(test_ids), 16, 40))
    run(SpectrogramSet(mel.ids, poisoned_values, mel.meta), labels, tmp_path / "poisoned")
    clean_model, poisoned_model = (lambda arm, unit="seed0_fold0": kept_model(tmp_path / "clean", unit, arm),
                                   lambda arm, unit="seed0_fold0": kept_model(tmp_path / "poisoned", unit, arm))
    for arm in ("gan_generator", "real_only", "gan"):
        for key, tensor in clean_model(arm).state_dict().items():
            assert torch.equal(tensor, poisoned_model(arm).state_dict()[key]), f"{arm}: {key} changed"
    assert clean_model("ridge") == poisoned_model("ridge")
    assert clean_model("real_only").config["input"]["db_mean"] == poisoned_model("real_only").config["input"]["db_mean"]
    # ... while folds that train on those songs do change
    assert clean_model("ridge", "seed0_fold1") != poisoned_model("ridge", "seed0_fold1")


def test_progress_names_the_fold_and_arm_of_every_fitting_node():
    from music_emotion.framework.output.experiment_progress import unit_and_step

    assert unit_and_step("seed0_fold3.real_only.fit_and_record_arm") == ("seed0_fold3", "real_only")
    assert unit_and_step("seed1_fold0.fit_gan_and_record_arms") == ("seed1_fold0", "GAN + its arms")
    assert unit_and_step("seed1_fold0.fit_diffusion_and_record_arms") == ("seed1_fold0", "diffusion + its arms")
    assert unit_and_step("seed0_fold0.fold_splits") is None and unit_and_step("real_only.train_arm") is None


def test_a_diffusion_arm_trains_its_folds_generator_on_train_songs_only_and_is_read_like_the_gan(monkeypatch,
                                                                                                   tmp_path):
    """`synthetic: diffusion` gets its own node per fold (the flow-matching generator + its arms); poisoning fold 0's
    test songs leaves fold 0's generator and arm bit-identical; the records carry the independent reader's facts."""
    from music_emotion.models.flow import SpectrogramFlow

    pipeline, run = experiment_runner(monkeypatch, ["real_only", "diffusion"])
    names = {n.name for n in pipeline.nodes}
    assert "seed0_fold0.fit_diffusion_and_record_arms" in names and "seed0_fold0.fit_gan_and_record_arms" not in names
    torch.set_num_threads(1)
    mel, labels = corpus(36)
    clean = run(tmp_path / "clean", mel_spectrograms=mel, emotion_labels=labels)
    predictions = clean.load("experiment_predictions")
    assert sorted(predictions.loc[predictions.arm == "diffusion", "song_id"]) == sorted(mel.ids)
    metrics = clean.load("experiment_metrics")
    read = metrics[(metrics.arm == "diffusion") & (metrics.fold != "pooled")]
    assert read["gan_reader_ccc_valence"].notna().all() and "gan_step" not in metrics
    assert "diffusion's samples valence" in clean.load("experiment_summary")

    test_ids = clean.load("seed0_fold0.song_splits")["test"]
    poisoned_values = np.array(mel.values)
    poisoned_values[mel.indices_of(test_ids)] = np.random.default_rng(9).uniform(-80, 0, (len(test_ids), 16, 40))
    run(tmp_path / "poisoned", mel_spectrograms=SpectrogramSet(mel.ids, poisoned_values, mel.meta),
        emotion_labels=labels)
    for arm in ("diffusion_generator", "diffusion"):
        before, after = (kept_model(tmp_path / "clean", "seed0_fold0", arm),
                         kept_model(tmp_path / "poisoned", "seed0_fold0", arm))
        for key, tensor in before.state_dict().items():
            assert torch.equal(tensor, after.state_dict()[key]), f"{arm}: {key} changed"
    assert isinstance(kept_model(tmp_path / "clean", "seed0_fold0", "diffusion_generator"), SpectrogramFlow)


def test_an_ast_arm_runs_in_every_fold_on_its_own_features_and_never_sees_a_test_song(monkeypatch, tmp_path):
    """The AST arm reads the shared (not fold-namespaced) ast_features, is scored on each fold's test songs like the
    ViT, and poisoning fold 0's test songs in ast_features leaves fold 0's AST (normalisation included)
    bit-identical."""
    from tests.pipelines.training.conftest import fbank_set

    pipeline, run = experiment_runner(monkeypatch, ["real_only", "ast"])
    (train_ast,) = [n for n in pipeline.nodes if n.name == "seed0_fold0.ast.fit_and_record_arm"]
    assert "ast_features" in train_ast.inputs and "mel_spectrograms" not in train_ast.inputs
    torch.set_num_threads(1)
    mel, labels = corpus(36)
    targets = labels[["valence", "arousal"]].to_numpy(np.float32)
    ast = fbank_set(list(mel.ids), targets, 3)
    ast.meta["extraction"].update(duration=float(mel.meta["extraction"].get("duration", 0.0)), offset=0.0)
    clean = run(tmp_path / "clean", mel_spectrograms=mel, emotion_labels=labels, ast_features=ast)
    predictions = clean.load("experiment_predictions")
    for arm in ("real_only", "ast"):
        assert sorted(predictions.loc[predictions.arm == arm, "song_id"]) == sorted(mel.ids)
    assert set(clean.load("experiment_comparison")["arm"]) == {"ast"}

    test_ids = clean.load("seed0_fold0.song_splits")["test"]
    poisoned_values = np.array(ast.values)
    poisoned_values[ast.indices_of(test_ids)] = np.random.default_rng(9).uniform(-16, 0,
                                                                                 poisoned_values[:len(test_ids)].shape)
    run(tmp_path / "poisoned", mel_spectrograms=mel, emotion_labels=labels,
        ast_features=SpectrogramSet(ast.ids, poisoned_values, ast.meta))
    before, after = (kept_model(tmp_path / "clean", "seed0_fold0", "ast"),
                     kept_model(tmp_path / "poisoned", "seed0_fold0", "ast"))
    assert before.config["input"] == after.config["input"]
    for key, tensor in before.state_dict().items():
        assert torch.equal(tensor, after.state_dict()[key]), key
    assert kept_model(tmp_path / "clean", "seed0_fold1", "ast").config["input"] != \
        kept_model(tmp_path / "poisoned", "seed0_fold1", "ast").config["input"]


@pytest.mark.slow  # two 3-fold experiments with a ViT arm beside the probe
def test_an_embedding_arm_reads_the_cached_embeddings_in_every_fold_and_never_fits_on_a_test_song(monkeypatch,
                                                                                                   tmp_path):
    """The embedding probe reads the one shared `audio_embeddings` set (no encoder runs in the experiment: the
    embeddings are computed once, by data_processing), is scored on each fold's test songs, and poisoning fold 0's
    test songs' embeddings leaves fold 0's probe identical while fold 1 (where they are train/val songs) changes."""
    from music_emotion.models import audio_encoder
    from tests.pipelines.training.conftest import embedding_set

    built = []
    monkeypatch.setattr(audio_encoder.FrozenAudioEncoder, "__init__", lambda *a, **k: built.append(1))
    pipeline, run = experiment_runner(monkeypatch, ["real_only", "clap_probe"])
    (probe_node,) = [n for n in pipeline.nodes if n.name == "seed0_fold0.clap_probe.fit_and_record_arm"]
    assert {"audio_embeddings", "params:training.probe"} <= set(probe_node.inputs)
    assert "mel_spectrograms" not in probe_node.inputs
    torch.set_num_threads(1)
    mel, labels = corpus(36)
    targets = labels[["valence", "arousal"]].to_numpy(np.float32)
    embeddings = embedding_set(list(mel.ids), targets, 3, duration=float(mel.meta["extraction"]["duration"]))
    clean = run(tmp_path / "clean", mel_spectrograms=mel, emotion_labels=labels, audio_embeddings=embeddings)
    assert built == []
    predictions = clean.load("experiment_predictions")
    assert sorted(predictions.loc[predictions.arm == "clap_probe", "song_id"]) == sorted(mel.ids)
    assert set(clean.load("experiment_comparison")["arm"]) == {"clap_probe"}

    test_ids = clean.load("seed0_fold0.song_splits")["test"]
    values = np.array(embeddings.values)
    values[embeddings.indices_of(test_ids)] = np.random.default_rng(9).normal(0, 5, values[:len(test_ids)].shape)
    run(tmp_path / "poisoned", mel_spectrograms=mel, emotion_labels=labels,
        audio_embeddings=SpectrogramSet(embeddings.ids, values, embeddings.meta))

    def probe(root, unit):
        return kept_model(root, unit, "clap_probe")

    assert probe(tmp_path / "clean", "seed0_fold0") == probe(tmp_path / "poisoned", "seed0_fold0")
    assert probe(tmp_path / "clean", "seed0_fold1")["coef"] != probe(tmp_path / "poisoned", "seed0_fold1")["coef"]


def test_holm_adjusts_a_family_of_p_values_step_down():
    assert holm(np.array([0.01, 0.04, 0.03, 0.5])).tolist() == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm(np.array([0.9, 0.8])).tolist() == [1.0, 1.0]  # 2 x 0.8 capped at 1; never below an earlier step
    assert holm(np.array([0.6, 0.7, 0.8])).max() == 1.0


def test_a_raw_win_that_does_not_survive_holm_is_no_evidence():
    row = {"arm": "gan", "reference": "real_only", "target": "valence", "metric": "ccc", "difference": 0.04,
           "ci_low": 0.01, "ci_high": 0.07, "seed_min": 0.02, "seed_max": 0.06, "n_seeds": 3, "p_value": 0.02,
           "p_holm": 0.2, "higher_is_better": True}
    said = verdict(row, 0.05)
    assert ("no evidence of a difference" in said and "p = 0.02, Holm p = 0.2" in said
            and "seeds +0.020 to +0.060" in said)
    assert "evidence of a gain" in verdict({**row, "p_holm": 0.03}, 0.05)


def test_the_comparison_reports_one_quantity_with_its_own_ci_and_its_range_over_seeds():
    """The point estimate is the pooled out-of-fold difference, the quantity the bootstrap resamples; over two
    seeds its per-seed values bound it."""
    rng = np.random.default_rng(3)
    y = rng.uniform(-1, 1, size=(120, 2))
    tables = {}
    for seed in (0, 1):
        noisy = y + rng.normal(0, 0.5, size=y.shape)
        better = y + rng.normal(0, 0.3, size=y.shape)
        for key, table in predictions_with({"real_only": noisy, "gan": better}, y, np.arange(120) % 4, seed).items():
            tables[f"{key}_s{seed}"] = table
    _, _, comparison = aggregate_experiment({**EXPERIMENT, "n_seeds": 2, "n_folds": 4}, **tables)
    for _, row in comparison[comparison.metric == "ccc"].iterrows():
        assert row["n_seeds"] == 2 and row["seed_min"] <= row["difference"] <= row["seed_max"]
        assert row["ci_low"] <= row["difference"] <= row["ci_high"]
        assert row["p_holm"] >= row["p_value"]


def test_a_point_outside_its_interval_draws_a_one_sided_bar_instead_of_crashing():
    """The crash the demo met: `xerr` must not be negative. A finished experiment never fails in its figure."""
    row = {"arm": "gan", "reference": "real_only", "metric": "ccc", "difference": 0.05, "ci_low": 0.06,
           "ci_high": 0.09, "seed_min": 0.04, "seed_max": 0.06, "n_seeds": 2, "p_value": 0.3, "p_holm": 0.6,
           "n_units": 10, "higher_is_better": True}
    comparison = pd.DataFrame([{**row, "target": t} for t in ("valence", "arousal")])
    figure = plot_experiment_deltas(comparison, parameters("reporting"), parameters("arms"))
    assert len(figure.axes) == 2


def test_the_summary_and_figure_rerun_alone_from_what_the_aggregation_saved(monkeypatch):
    """`--from-nodes summarise_experiment,plot_experiment_deltas` needs only datasets on disk: a reporting failure
    after the units are done costs a re-draw, not the experiment."""
    pipeline, _ = experiment_runner(monkeypatch, ["ridge", "real_only"])
    redraw = pipeline.from_nodes("summarise_experiment", "plot_experiment_deltas")
    persisted = set(yaml.safe_load((Path(__file__).resolve().parents[3] / "conf" / "base" / "catalog.yml").read_text()))
    free = {name for name in redraw.inputs() if not name.startswith("params:")}
    assert {"experiment_comparison", "experiment_metrics"} <= free
    assert free <= persisted, free - persisted
    assert not any("fold" in node.name and "seed" in node.name for node in redraw.nodes)  # no unit is redone


@pytest.mark.parametrize("env", ["base", "demo", "rehearsal"])
def test_every_envs_experiment_overrides_apply_to_its_own_parameters(env):
    """The rehearsal's overrides once named keys its training config lacked: its experiment stopped in its first
    node."""
    from music_emotion.study.folds import experiment_parameters

    training, generators = experiment_parameters(parameters("training", env), parameters("gan_augmentation", env),
                                                 parameters("diffusion_augmentation", env),
                                                 parameters("experiment", env))
    overrides = parameters("experiment", env)["overrides"]
    for section, budget, merged in (("training", "optimisation", training),
                                    ("gan_augmentation", "training", generators["gan"]),
                                    ("diffusion_augmentation", "training", generators["diffusion"])):
        for key, value in overrides.get(section, {}).get(budget, {}).items():
            assert merged[budget][key] == value


def test_the_summary_table_never_prints_a_negative_zero():
    """The rehearsal's mean baseline read "-0.000" (its pooled CCC is -1e-17, rounding noise)."""
    from music_emotion.report.comparison import summarise_experiment

    rows = [{"seed": 0, "fold": fold, "arm": "mean", "target": target, "metric": "ccc", "value": -1e-17}
            for fold in ("pooled", "0", "1") for target in ("valence", "arousal")]
    comparison = pd.DataFrame(columns=["arm", "target", "metric"])
    summary = summarise_experiment(comparison, pd.DataFrame(rows), parameters("experiment"))
    assert "| mean | 0.000 | 0.000 ± 0.000 | 0.000 | 0.000 ± 0.000 |" in summary and "-0.000" not in summary


def test_a_verdict_is_inconclusive_when_a_folds_generator_failed_its_target():
    """An arm trained on samples that do not carry valence cannot say whether generative augmentation helps
    valence: its verdict says so, with the reader's numbers, instead of 'no evidence of a difference'."""
    from music_emotion.report.comparison import summarise_experiment

    rows = []
    for arm in ("real_only", "gan"):
        for fold in ("pooled", "0", "1"):
            for target in ("valence", "arousal"):
                row = {"seed": 0, "fold": fold, "arm": arm, "target": target, "metric": "ccc", "value": 0.5}
                if arm == "gan":
                    row.update(gan_reader_ccc_valence=0.2 if fold == "1" else 0.7, gan_reader_real_ccc_valence=0.8,
                               gan_reader_carried_valence=fold != "1", gan_reader_ccc_arousal=0.9,
                               gan_reader_real_ccc_arousal=0.95, gan_reader_carried_arousal=True)
                rows.append(row)
    comparison = pd.DataFrame([
        {"arm": "gan", "reference": "real_only", "target": target, "metric": "ccc", "difference": -0.01,
         "ci_low": -0.05, "ci_high": 0.03, "seed_min": -0.01, "seed_max": -0.01, "n_seeds": 1, "p_value": 0.5,
         "p_holm": 0.9, "higher_is_better": True} for target in ("valence", "arousal")])
    summary = summarise_experiment(comparison, pd.DataFrame(rows), parameters("experiment"))
    valence = next(line for line in summary.splitlines() if line.startswith("- gan vs real_only: valence"))
    arousal = next(line for line in summary.splitlines() if line.startswith("- gan vs real_only: arousal"))
    assert "inconclusive: the generator's samples do not carry valence in 1 of 2 fold(s)" in valence
    assert "0.20 vs 0.80 on real songs" in valence and "no evidence" not in valence
    assert arousal.endswith("no evidence of a difference")
    assert "Read by the independent reader" in summary and "valence 0.45 (min 0.20) against real songs 0.80" in summary
