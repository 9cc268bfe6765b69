"""The ways in for people who want their songs' V/A: EmotionModel, the exported folder and its card, the command,
and what each refuses. Everything is checked against the inference pipeline's own per-file code path."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from music_emotion import EmotionModel
from music_emotion.serving import cli
from music_emotion.serving.model_card import card_facts, model_card
from music_emotion.serving.model_folder import (
    ModelFolderError,
    PredictionSettings,
    write_model_folder,
)
from music_emotion.serving.web_app import analyse
from music_emotion.study.lineage import fingerprint
from tests.audio_fixtures import tone, write_audio
from tests.pipelines.inference.test_inference import pipeline_windows, tiny_model

SETTINGS = PredictionSettings(min_window_fraction=0.5, batch_size=4, files_per_batch=2, rating_scale=(1.0, 9.0))
CARD = {"training_data": "three synthetic tones", "dataset_id": "tones", "dataset_name": "tones", "datasets": [],
        "license": "mit", "license_name": None, "limitations": "It has heard three tones."}


@pytest.fixture
def songs(tmp_path):
    folder = tmp_path / "songs"
    write_audio(folder / "a.wav", np.concatenate([tone(2.0, 8000, 1, 300), tone(1.5, 8000, 1, 2000)]), 8000)
    write_audio(folder / "sub" / "b.flac", tone(2.0, 44100, 2, 700), 44100)
    write_audio(folder / "c.mp3", tone(0.8, 22050, 2, 500), 22050)
    (folder / "broken.mp3").write_bytes(b"not audio" * 40)
    return folder


def metrics_for(model) -> dict:
    metric = {"value": 0.5, "ci_low": 0.25, "ci_high": 0.75}
    per_target = {m: dict(metric, value=v) for m, v in zip(("ccc", "pearson", "r2", "rmse", "mae"),
                                                              (0.61, 0.7, 0.4, 0.3, 0.2), strict=True)}
    return {"gan": {"n_songs": 3, "valence": per_target, "arousal": dict(per_target, ccc=dict(metric, value=0.83)),
                    "lineage": {"model": fingerprint(model), "song_splits": "x"}}}


@pytest.fixture
def exported(tmp_path):
    model = tiny_model()
    facts = card_facts("gan", {"model": "vit", "synthetic": True, "label": "ViT + GAN"}, model, metrics_for(model),
                       {"train": [1, 2, 3, 4], "val": [5], "test": [6, 7, 8]}, 42, CARD)
    return model, write_model_folder(model, tmp_path / "exported", SETTINGS, model_card(facts))


def test_emotion_model_equals_the_inference_pipeline_path(songs, exported):
    model, folder = exported
    files = {p.name: str(p) for p in sorted(songs.rglob("*")) if p.is_file()}
    pipeline = pipeline_windows(files, model, songs)
    api = EmotionModel.from_pretrained(folder, device="cpu")
    predicted = api.predict_many(list(files.values()))
    assert [s.file for s in predicted] == list(files.values())
    for song, (name, rows) in zip(predicted, pipeline.groupby("file", sort=False), strict=True):
        if rows["status"].iloc[0] == "skipped":
            assert song.status == "skipped" and "not a recognised audio format" in song.reason and name == "broken.mp3"
            continue
        assert song.valence == rows["file_valence"].iloc[0] and song.arousal == rows["file_arousal"].iloc[0]
        np.testing.assert_array_equal(song.windows[["valence", "arousal"]], rows[["valence", "arousal"]])
        np.testing.assert_array_equal(song.windows["start_s"], rows["segment_start_s"])
        assert -1 <= song.valence <= 1 and song.n_windows == len(rows)
    assert predicted[2].status == "padded"  # c.mp3: 0.8 s, shorter than one window


def test_deam_scale_is_the_rating_range(songs, exported):
    api = EmotionModel.from_pretrained(exported[1], device="cpu")
    unit, deam = api.predict(songs / "a.wav"), api.predict(songs / "a.wav", scale="deam")
    assert deam.valence == pytest.approx(5 + 4 * unit.valence) and deam.arousal == pytest.approx(5 + 4 * unit.arousal)
    np.testing.assert_allclose(deam.windows["valence"], 5 + 4 * unit.windows["valence"])
    with pytest.raises(ValueError, match="scale must be one of"):
        api.predict(songs / "a.wav", scale="percent")


def test_exported_folder_reloads_bit_identically_in_a_fresh_process_elsewhere(songs, exported, tmp_path):
    model, folder = exported
    here = EmotionModel(model, SETTINGS, device="cpu").predict(songs / "a.wav")
    script = ("import json,sys; from music_emotion import EmotionModel; s=EmotionModel.from_pretrained(sys.argv[1], "
              "device='cpu').predict(sys.argv[2]); print(json.dumps([s.valence.hex(), s.arousal.hex(), "
              "[v.hex() for v in s.windows['valence']]]))")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run([sys.executable, "-c", script, str(folder), str(songs / "a.wav")], cwd=elsewhere,
                         capture_output=True, text=True, check=True)
    valence, arousal, windows = json.loads(out.stdout.strip().splitlines()[-1])
    assert (valence, arousal) == (here.valence.hex(), here.arousal.hex())
    assert windows == [v.hex() for v in here.windows["valence"]]


def test_model_card_metrics_are_test_metrics_and_front_matter_is_the_hubs(exported):
    model, folder = exported
    text = (folder / "README.md").read_text()
    front = yaml.safe_load(text.split("---")[1])
    assert front["license"] == "mit" and "valence-arousal" in front["tags"] and front["library_name"] == "music_emotion"
    values = {m["type"]: m["value"] for m in front["model-index"][0]["results"][0]["metrics"]}
    expected = metrics_for(model)["gan"]
    assert values["ccc_valence"] == expected["valence"]["ccc"]["value"]
    assert values["ccc_arousal"] == expected["arousal"]["ccc"]["value"] == 0.83
    assert "| valence | 0.610 [0.250, 0.750] |" in text and "4 train / 1 validation" in text
    assert "the GAN's synthetic spectrograms" in text and "It has heard three tones." in text
    assert json.loads((folder / "inference.json").read_text())["rating_scale"] == [1.0, 9.0]


def test_a_card_is_refused_for_metrics_of_another_model():
    model, other = tiny_model(), tiny_model(mode="native")
    with pytest.raises(ValueError, match="another 'gan' model"):
        card_facts("gan", {"model": "vit"}, model, metrics_for(other), {"train": [1]}, 42, CARD)


def test_export_never_overwrites_a_folder(exported):
    model, folder = exported
    with pytest.raises(ModelFolderError, match="not empty"):
        write_model_folder(model, folder, SETTINGS, "card")


def test_an_exported_folder_and_its_files_follow_the_users_umask(tmp_path):
    """A folder to share: not the 0700 its scratch directory is created with."""
    old = os.umask(0o022)
    try:
        folder = write_model_folder(tiny_model(), tmp_path / "shared", SETTINGS, "card")
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == 0o755
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in folder.iterdir())


def _tamper(folder, how):
    config = json.loads((folder / "config.json").read_text())
    if how == "wrong family":
        config["family"] = "ast"
    elif how == "auto_map":
        config["auto_map"] = {"AutoModel": "evil.Model"}
    elif how == "python file":
        (folder / "evil.py").write_text("raise SystemExit('ran code')\n")
    elif how == "foreign class":
        config["model_class"] = "os.system"
    elif how == "missing weights":
        (folder / "model.safetensors").unlink()
    elif how == "pickle as safetensors":
        (folder / "model.safetensors").write_bytes(pickle.dumps({"weights": torch.zeros(3)}))
    elif how == "absurd layers":
        config["backbone"]["num_hidden_layers"] = 10_000_000
    elif how == "absurd width":
        config["backbone"]["hidden_size"] = 1_000_000_000
    (folder / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("how, message", [
    ("wrong family", "for the 'ast' family"),
    ("auto_map", "asks to run code"),
    ("python file", "evil.py"),
    ("foreign class", "does not name a music_emotion model class"),
    ("missing weights", "not a saved model directory"),
    ("pickle as safetensors", "not a safetensors file"),
    ("absurd layers", "does not belong to these weights"),
    ("absurd width", "does not belong to these weights"),
])
def test_a_tampered_folder_is_refused_with_a_message(exported, how, message):
    folder = exported[1]
    _tamper(folder, how)
    started = time.monotonic()
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        EmotionModel.from_pretrained(folder, device="cpu")
    assert time.monotonic() - started < 30  # refused before anything large is built


def test_an_unreachable_hub_id_fails_fast_with_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelFolderError, match="hf download someone/emotion-model --local-dir"):
        EmotionModel.from_pretrained("someone/emotion-model")


def test_predict_command_prints_the_table_writes_windows_and_counts_skips(songs, exported, tmp_path, capsys):
    model, folder = exported
    out = tmp_path / "windows.csv"
    assert cli.main(["predict", str(songs), "--model", str(folder), "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr()
    assert "a.wav" in printed.out and "quadrant" in printed.out and "broken.mp3" not in printed.out
    assert "3 file(s) predicted, 1 skipped" in printed.err and "skipped:" in printed.err
    windows = pd.read_csv(out)
    expected = EmotionModel(model, SETTINGS, device="cpu").predict(songs / "a.wav")
    rows = windows[windows["file"] == str(songs / "a.wav")]
    np.testing.assert_allclose(rows["valence"], expected.windows["valence"], rtol=1e-6)
    assert set(windows["status"]) == {"ok", "padded", "skipped"}


def test_predict_command_errors_are_one_paragraph(tmp_path, capsys):
    assert cli.main(["predict", str(tmp_path), "--model", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "is not a model folder (no such directory)" in err
    assert cli.main(["predict", str(tmp_path), "--model", "gan", "--project", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "is not the music_emotion project folder" in err
    assert cli.main(["export", "gan", str(tmp_path / "x"), "--project", str(tmp_path)]) == 2


def test_cold_command_outside_a_project_runs_no_kedro(songs, exported, tmp_path):
    """From another folder, a model folder is enough: no conf, no catalog, Kedro not even imported."""
    script = ("import sys; from music_emotion.serving.cli import main; rc = main(sys.argv[1:]); "
              "print('kedro imported' if 'kedro.framework.session' in sys.modules else 'no kedro'); sys.exit(rc)")
    env = {**os.environ, "MUSIC_EMOTION_NO_PROGRESS": "1"}
    done = subprocess.run([sys.executable, "-c", script, "predict", str(songs / "a.wav"), "--model",
                           str(exported[1])], cwd=tmp_path, capture_output=True, text=True, env=env, check=True)
    assert "a.wav" in done.stdout and done.stdout.strip().endswith("no kedro")


def test_web_page_refuses_long_audio_and_reports_broken_uploads(songs, exported):
    api = EmotionModel.from_pretrained(exported[1], device="cpu")
    table, predicted = analyse(api, [str(songs / "a.wav"), str(songs / "broken.mp3"), str(songs / "sub" / "b.flac")],
                               max_seconds=3.0)
    by_file = table.set_index("file")
    assert by_file.loc["a.wav", "status"] == "refused" and "3.5" not in by_file.loc["a.wav", "reason"]
    assert "this page takes up to" in by_file.loc["a.wav", "reason"]
    assert by_file.loc["broken.mp3", "status"] == "skipped"
    assert by_file.loc["b.flac", "status"] == "ok" and [s.file for s in predicted] == ["b.flac"]
    assert -1 <= by_file.loc["b.flac", "valence"] <= 1


def test_audio_far_beyond_full_scale_is_a_named_skip_never_a_nan_prediction(exported, tmp_path, capsys):
    import soundfile as sf

    loud = tmp_path / "loud.wav"
    sf.write(loud, (tone(2.0, 8000, 1, 440) * 1e29).astype(np.float32), 8000, subtype="FLOAT")
    song = EmotionModel.from_pretrained(exported[1], device="cpu").predict(loud)
    assert song.status == "skipped" and "overflow" in song.reason and "peak amplitude 3e+28" in song.reason
    assert cli.main(["predict", str(loud), "--model", str(exported[1]), "--device", "cpu"]) == 0
    printed = capsys.readouterr()
    assert "nan" not in printed.out.lower() and "0 file(s) predicted, 1 skipped" in printed.err


def test_a_model_whose_output_is_not_a_number_gives_a_skip(songs, exported):
    model = exported[0]

    class NanModel(type(model)):
        def predict(self, batch):
            return super().predict(batch) * float("nan")

    broken = tiny_model()
    broken.__class__ = NanModel
    song = EmotionModel(broken, SETTINGS, device="cpu").predict(songs / "a.wav")
    assert song.status == "skipped" and "not a number" in song.reason and np.isnan(song.valence)


def test_export_keeps_a_users_partial_folder_and_its_scratch_is_its_own(exported, tmp_path):
    model = exported[0]
    users = tmp_path / "mine.partial"
    users.mkdir()
    (users / "notes.txt").write_text("mine")
    write_model_folder(model, tmp_path / "mine", SETTINGS, "card")
    assert (users / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported", "mine", "mine.partial"]  # no scratch left


def test_two_exports_racing_to_one_folder_leave_one_whole_model_and_one_clear_error(tmp_path):
    """Each writer has its own scratch folder; the final rename never replaces a finished folder, so the target
    holds one writer's weights with that writer's card, and the other writer is told."""
    import threading

    models = [tiny_model(), tiny_model(mode="native")]
    target = tmp_path / "shared"
    for round_number in range(6):
        folder = target / str(round_number)
        outcomes: list = [None, None]
        start = threading.Barrier(2)

        def export(i, folder=folder, outcomes=outcomes, start=start):
            start.wait()
            try:
                write_model_folder(models[i], folder, SETTINGS, f"card of writer {i}")
                outcomes[i] = "ok"
            except ModelFolderError as exc:
                outcomes[i] = str(exc)

        threads = [threading.Thread(target=export, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [i for i, outcome in enumerate(outcomes) if outcome == "ok"]
        assert len(winners) == 1, outcomes
        loser = outcomes[1 - winners[0]]
        assert "exported by another run" in loser or "not empty" in loser
        assert (folder / "README.md").read_text() == f"card of writer {winners[0]}"
        back = EmotionModel.from_pretrained(folder, device="cpu").model
        assert back.config["input"] == models[winners[0]].config["input"]
    assert not [p for p in target.iterdir() if p.name.startswith(".")]  # no scratch folder left behind


@pytest.mark.parametrize("change, said", [
    ({"batch_size": True}, "batch_size must be a whole number"),
    ({"batch_size": "8"}, "batch_size must be a whole number"),
    ({"rating_scale": [1, float("inf")]}, "rating_scale must be two finite numbers"),
    ({"rating_scale": 19}, "rating_scale must be two finite numbers"),
    ({"min_window_fraction": "half"}, "min_window_fraction must be a number"),
])
def test_bad_inference_settings_are_one_error_naming_the_file_and_key(exported, change, said):
    folder = exported[1]
    data = json.loads((folder / "inference.json").read_text())
    (folder / "inference.json").write_text(json.dumps({**data, **change}))
    with pytest.raises(ModelFolderError, match=said) as caught:
        EmotionModel.from_pretrained(folder, device="cpu")
    assert "inference.json" in str(caught.value)


def test_an_export_never_writes_settings_its_own_loader_refuses(exported, tmp_path):
    bad = PredictionSettings(min_window_fraction=0.5, batch_size=4, files_per_batch=2, rating_scale=(9.0, 1.0))
    with pytest.raises(ModelFolderError, match="rating_scale"):
        write_model_folder(exported[0], tmp_path / "bad", bad, "card")
    assert not (tmp_path / "bad").exists()


def test_an_arm_name_selects_that_arms_model_and_an_unknown_one_names_the_arms(monkeypatch):
    """`--model real_only` must read real_only's saved model (the catalog resolves the arm from the run's
    parameters), and a name that is no trained arm stops with the list of arms."""
    from music_emotion.serving.cli import ProjectRecords, arm_runtime_params

    project = Path(__file__).resolve().parents[2]
    loaded = {}
    monkeypatch.setattr(ProjectRecords, "load", lambda self, name, what: loaded.setdefault(
        self.params["inference"]["model"], str(self.catalog.get(name)._filepath)))
    monkeypatch.setattr("music_emotion.serving.predictor.EmotionModel.__init__", lambda *a, **k: None)
    args = cli.parser().parse_args(["predict", "x.wav", "--env", "demo", "--project", str(project)])
    for arm in ("real_only", "specaugment", "clap_probe"):
        cli.load_model(arm, args)
    assert loaded["real_only"].endswith("real_only/trained_model")
    assert loaded["specaugment"].endswith("specaugment/trained_model")
    assert loaded["clap_probe"].endswith("clap_probe/trained_model")  # the embedding probe is served too
    for name, said in (("nosucharm", "not an arm of this project"), ("ridge", "a baseline without a saved network")):
        with pytest.raises(cli.UsageError, match=said) as caught:
            cli.load_model(name, args)
        assert all(f"'{arm}'" in str(caught.value) for arm in ("real_only", "gan", "clap_probe"))
    assert arm_runtime_params("gan") == {"inference": {"model": "gan"}}


@pytest.mark.parametrize("argv", [[], ["--help"], ["-h"], ["help"]])
def test_the_commands_own_help_comes_first_and_lists_every_subcommand(argv, capsys):
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: music-emotion") and "Run the pipeline" not in out
    for command in ("predict", "export", "app", "published", "run"):
        assert f"    {command} " in out


def test_every_subcommand_of_the_parser_is_routed_to_it_not_to_kedro_run(tmp_path, capsys):
    """A subcommand missing from COMMANDS would be handed to Kedro's run as an unknown argument."""
    import argparse

    (sub,) = [a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) - {"run"} == set(cli.COMMANDS)
    assert cli.main(["published", "--project", str(tmp_path)]) == 2
    assert "is not the music_emotion project folder" in capsys.readouterr().err


def test_a_project_commands_log_lines_go_to_stderr_never_into_the_table(monkeypatch, capsys):
    import logging

    handler = logging.StreamHandler(sys.stdout)
    logging.getLogger().addHandler(handler)
    try:
        cli._logs_to_stderr()
        logging.getLogger("music_emotion.test").warning("a log line")
    finally:
        logging.getLogger().removeHandler(handler)
    printed = capsys.readouterr()
    assert "a log line" in printed.err and "a log line" not in printed.out


@pytest.mark.parametrize("out, said", [("w.xlsx", "must end in .csv or .parquet"),
                                       ("no/such/folder/w.csv", "does not exist")])
def test_a_wrong_out_path_fails_before_any_file_is_predicted(songs, tmp_path, monkeypatch, capsys, out, said):
    def never(*args):
        raise AssertionError("a model was loaded before --out was checked")

    monkeypatch.setattr(cli, "load_model", never)
    assert cli.main(["predict", str(songs), "--model", "x", "--out", str(tmp_path / out)]) == 2
    assert said in capsys.readouterr().err


@pytest.mark.parametrize("name", ["inference.json", "config.json"])
def test_a_huge_json_file_is_refused_before_it_is_read(exported, name):
    folder = exported[1]
    with (folder / name).open("w") as handle:
        handle.write('{"pad": "' + "x" * (5 << 20) + '"}')
    with pytest.raises(ValueError, match="bytes, far more than"):
        EmotionModel.from_pretrained(folder, device="cpu")


def test_the_page_keeps_a_bounded_number_of_result_tables(tmp_path):
    from music_emotion.serving.web_app import keep_newest

    for i in range(5):
        (tmp_path / f"t{i}.csv").write_text("x")
        os.utime(tmp_path / f"t{i}.csv", ns=(i * 10**9, i * 10**9))
    keep_newest(tmp_path, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t3.csv", "t4.csv"]


def test_the_card_of_an_arm_trained_on_generated_samples_says_whether_they_carry_their_labels(exported):
    from music_emotion.gan.reader import generator_verdict

    model = exported[0]
    reading = {"valence": {"conditioning_ccc": 0.2, "real_ccc": 0.8, "carried": False},
               "arousal": {"conditioning_ccc": 0.9, "real_ccc": 0.95, "carried": True}}
    facts = card_facts("gan", {"model": "vit", "synthetic": True}, model, metrics_for(model),
                       {"train": [1], "val": [2], "test": [3]}, 42, CARD, generator_verdict(reading))
    card = model_card(facts)
    assert ("Generated training samples: inconclusive: the generator's samples do not carry valence "
            "(0.20 vs 0.80") in card
    plain = model_card(card_facts("gan", {"model": "vit"}, model, metrics_for(model), {"train": [1]}, 42, CARD))
    assert "Generated training samples" not in plain


def test_a_long_file_is_predicted_a_group_of_chunks_at_a_time_with_the_same_numbers(exported, tmp_path, monkeypatch):
    """A 10-hour recording must not hold every chunk's spectrogram at once: past STREAM_ABOVE_CHUNKS chunks an
    in-process engine decodes and predicts it a group at a time, and the rows are those of the whole-file path."""
    from music_emotion.audio import file_tasks
    from music_emotion.serving import file_prediction

    model = exported[0]
    config = EmotionModel(model, SETTINGS, device="cpu").feature_config
    long = write_audio(tmp_path / "long.wav", tone(7.5 * config.duration, 8000, 1, 330), 8000)
    cpu = torch.device("cpu")
    whole = file_prediction.window_rows("long.wav", file_tasks.decode_file(str(long), config, 0.5), model, 4, cpu)
    monkeypatch.setattr(file_tasks, "STREAM_ABOVE_CHUNKS", 3)
    monkeypatch.setattr(file_prediction, "STREAM_ABOVE_CHUNKS", 3)
    deferred = file_tasks.decode_file(str(long), config, 0.5, stream_long_files=True)
    assert isinstance(deferred, file_tasks.Deferred) and deferred.n_chunks == 8
    stacked = []
    real_stack = np.stack
    monkeypatch.setattr(np, "stack", lambda arrays, *a, **k: (stacked.append(len(arrays)),
                                                              real_stack(arrays, *a, **k))[1])
    streamed = file_prediction.window_rows("long.wav", deferred, model, 4, cpu)
    assert stacked and max(stacked) == 3  # never more than one group of chunks in memory
    assert [r["segment"] for r in streamed] == list(range(len(whole)))
    for a, b in zip(streamed, whole, strict=True):
        assert a["segment_start_s"] == b["segment_start_s"]
        assert a["valence"] == pytest.approx(b["valence"], abs=1e-5)
        assert a["file_valence"] == pytest.approx(b["file_valence"], abs=1e-5)


def test_a_model_folder_outside_a_project_decodes_by_conf_bases_auto_rule():
    """Outside a project there is no conf to read: the command's engine for a folder must be conf/base's `dask`."""
    from dataclasses import asdict

    from music_emotion.audio.engine import EngineParams
    from tests.conf_params import parameters

    assert asdict(cli._folder_engine()) == asdict(EngineParams.from_params(parameters("dask")))
