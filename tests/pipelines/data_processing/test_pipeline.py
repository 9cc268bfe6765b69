"""data_processing end to end with SequentialRunner on tiny generated audio, through the real datasets."""

import json

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from music_emotion.pipelines.data_processing import create_pipeline
from tests.audio_fixtures import tone, write_audio
from tests.conf_params import parameters
from tests.encoder_fixtures import encoder_params


def write_deam_like(root, n=12):
    audio = root / "MEMD_audio"
    song_level = root / "annotations" / "annotations averaged per song" / "song_level"
    song_level.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for song_id in range(2, 2 + n):
        write_audio(audio / f"{song_id}.mp3", tone(2.5, 44100, 2, 200 + 50 * song_id), 44100)
        rows.append(f"{song_id},{rng.uniform(1, 9):.2f},1.0,{rng.uniform(1, 9):.2f},1.1")
    (song_level / "static_annotations_averaged_songs_1_2000.csv").write_text(
        "song_id, valence_mean, valence_std, arousal_mean, arousal_std\n" + "\n".join(rows) + "\n")
    (song_level / "static_annotations_averaged_songs_2000_2058.csv").write_text(
        "song_id, valence_mean, valence_std, valence_ max_mean, valence_max_std, valence_min_mean, valence_min_std, "
        "arousal_mean, arousal_std, arousal_max_mean, arousal_max_std, arousal_min_mean, arousal_min_std\n"
        "2001, 6.1, 1.0, 7.0, 0.5, 5.0, 0.5, 3.2, 0.9, 4.0, 0.4, 2.0, 0.4\n")
    write_audio(audio / "2001.mp3", tone(4.0, 22050, 1, 700), 22050)
    return song_level


def test_pipeline_runs_on_a_deam_layout(tmp_path):
    song_level = write_deam_like(tmp_path / "deam")
    out = tmp_path / "data"
    catalog = DataCatalog.from_config({
        "deam_audio": {"type": "music_emotion.datasets.AudioFolderDataset",
                       "path": str(tmp_path / "deam" / "MEMD_audio")},
        "deam_annotations_1_2000": {"type": "music_emotion.datasets.AnnotationCSVDataset",
                                    "filepath": str(song_level / "static_annotations_averaged_songs_1_2000.csv"),
                                    "load_args": {"skipinitialspace": True}},
        "deam_annotations_2000_2058": {"type": "music_emotion.datasets.AnnotationCSVDataset",
                                       "filepath": str(song_level / "static_annotations_averaged_songs_2000_2058.csv"),
                                       "load_args": {"skipinitialspace": True}},
        "mel_spectrograms": {"type": "music_emotion.datasets.SpectrogramDataset",
                             "filepath": str(out / "mel_spectrograms.npy"), "versioned": True},
        "emotion_labels": {"type": "pandas.ParquetDataset", "filepath": str(out / "labels.parquet")},
        "song_splits": {"type": "json.JSONDataset", "filepath": str(out / "song_splits.json"), "versioned": True},
        "extraction_report": {"type": "pandas.CSVDataset", "filepath": str(out / "report.csv"), "versioned": True},
        "ast_features": {"type": "music_emotion.datasets.SpectrogramDataset",
                         "filepath": str(out / "ast_features.npy"), "versioned": True},
        "audio_embeddings": {"type": "music_emotion.datasets.SpectrogramDataset",
                             "filepath": str(out / "audio_embeddings.npy"), "versioned": True,
                             "storage_dtype": "float16"},
    })
    catalog["params:seed"] = 3
    catalog["params:data_processing.labels"] = {
        "rating_min": 1, "rating_max": 9,
        "required_columns": ["song_id", "valence_mean", "valence_std", "arousal_mean", "arousal_std"]}
    catalog["params:data_processing.extraction"] = parameters(
        "data_processing.extraction", sample_rate=8000, duration=3.0, offset=0.0, n_fft=512, hop_length=256, n_mels=16)
    catalog["params:data_processing.ast_features"] = parameters("data_processing.ast_features", n_mels=32)
    catalog["params:data_processing.embeddings"] = encoder_params(None)  # a tiny random CLAP encoder
    catalog["params:dask"] = {"engine": "single", "scheduler_address": None, "n_workers": None,
                              "connect_timeout_s": 5, "min_audio_seconds": 0.0}
    catalog["params:data_processing.split"] = {"fractions": {"train": 0.5, "val": 0.25, "test": 0.25},
                                               "stratify": "quadrant", "song_lists": None}

    SequentialRunner().run(create_pipeline(), catalog)

    spectrograms = catalog.load("mel_spectrograms")
    assert sorted(spectrograms.ids) == list(range(2, 14)) + [2001]
    assert spectrograms.values.shape == (13, 16, 1 + 24000 // 256)
    assert isinstance(spectrograms.values, np.memmap)
    splits = catalog.load("song_splits")
    assert sorted(splits["train"] + splits["val"] + splits["test"]) == sorted(spectrograms.ids)
    report = catalog.load("extraction_report")
    assert set(report["status"]) == {"ok", "padded"}  # every 2.5 s excerpt is padded to the 3 s window
    assert report.loc[report["song_id"] == 2001, "status"].item() == "ok"
    labels = catalog.load("emotion_labels")
    assert isinstance(labels, pd.DataFrame) and labels["valence"].between(-1, 1).all()
    assert json.loads((next((out / "song_splits.json").iterdir()) / "song_splits.json").read_text())["seed"] == 3
    # conf/base has an arm with `model: ast`: its features hold the same songs in the same rows, 16 kHz / 10 ms
    ast = catalog.load("ast_features")
    assert ast.ids == spectrograms.ids
    assert ast.values.shape == (13, 32, 1 + (48000 - 400) // 160)
    assert ast.meta["extraction"]["kind"] == "kaldi_fbank"
    real = dict(zip(ast.ids, ast.meta["valid_frames"], strict=True))
    assert real[2001] == ast.values.shape[2]  # the full-length song
    assert {real[song] for song in range(2, 14)} == {1 + (40000 - 400) // 160}  # 2.5 s of audio in a 3 s span
    # conf/base has an arm with `model: embedding`: one embedding per 1 s encoder window of the same songs
    embeddings = catalog.load("audio_embeddings")
    assert embeddings.ids == spectrograms.ids and embeddings.values.shape == (13, 3, 8)
    windows = dict(zip(embeddings.ids, embeddings.meta["valid_frames"], strict=True))
    assert windows[2001] == 3 and {windows[song] for song in range(2, 14)} == {3}


@pytest.mark.parametrize(("spec", "features", "section"), [({"model": "ast"}, "ast_features", "experiment"),
                                                          ({"model": "embedding", "probe": "mlp"}, "audio_embeddings",
                                                           "training")])
def test_extra_features_are_built_only_when_an_arm_of_either_run_needs_them(monkeypatch, spec, features, section):
    from music_emotion.pipelines.data_processing import pipeline as data_pipeline
    from music_emotion.study.arms import parse_arms

    vit_only = parse_arms({"real_only": {"model": "vit"}, "ridge": {"model": "ridge_baseline"}}, None, "arms")
    monkeypatch.setattr(data_pipeline, "configured_arms", lambda parameter: vit_only)
    assert features not in data_pipeline.create_pipeline().all_outputs()
    needing = parse_arms({"extra": spec}, None, "arms")
    monkeypatch.setattr(data_pipeline, "configured_arms",
                        lambda parameter: needing if section in parameter else vit_only)
    assert features in data_pipeline.create_pipeline().all_outputs()
