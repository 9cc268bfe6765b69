"""inference: reload round trip through the catalog, window aggregation, bad files, clear errors."""

import hashlib

import numpy as np
import pandas as pd
import pytest
import torch
from kedro.io import DataCatalog, DatasetError, Version
from kedro.runner import SequentialRunner

from music_emotion.audio.decoding import iter_windows
from music_emotion.audio.listing import AudioListing
from music_emotion.data.windows import window_starts
from music_emotion.datasets import TorchModelDataset
from music_emotion.models.song_prediction import predict_songs
from music_emotion.models.vit_regression import ViTModelParams, build_vit_regressor
from music_emotion.pipelines.inference import create_pipeline
from music_emotion.pipelines.inference.nodes import predict_library, summarise_library
from music_emotion.serving.file_prediction import quadrant_of
from tests.audio_fixtures import tone, write_audio
from tests.conf_params import mel_config, parameters

MEL = mel_config(sample_rate=8000, duration=2.0, n_fft=512, hop_length=256, n_mels=16)
PARAMS = {"model": "gan", "min_window_fraction": 0.5, "batch_size": 4, "files_per_batch": 2, "resume": True,
          "plot": {"dpi": 50, "max_labels": 20, "max_label_chars": 12}}
SINGLE = {"engine": "single", "scheduler_address": None, "n_workers": None, "connect_timeout_s": 5,
          "min_audio_seconds": 0.0}
NO_RUN = {"run": None, "input_versions": {}}  # run_lineage of a run Kedro did not start
TINY_VIT = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
            "patch_size": 8, "image_size": 32}


WINDOW, STRIDE = 31, 16  # 1 s and 0.5 s at 8 kHz / hop 256


def tiny_model(mode="resize", extraction=MEL):
    torch.manual_seed(0)
    params = ViTModelParams.from_params(parameters("training.model", **{
        "checkpoint": None, "vit_config": TINY_VIT, "input_mode": mode, "head_hidden_size": 16, "patch_stride": 8}))
    stats = {"db_mean": -40.0, "db_std": 15.0, "db_range": [-80.0, 0.0], "pad_db": -80.0}
    return build_vit_regressor(params, extraction.to_dict(), stats, (WINDOW, STRIDE)).eval()


def pipeline_parts(listing: AudioListing, model) -> dict[str, pd.DataFrame]:
    """{part name: window rows} as the inference pipeline's node yields them: one process, in memory, in order (the
    one prediction loop that the command, the API and the page share)."""
    return {key: table for part in predict_library(listing, model, {}, PARAMS, SINGLE, "cpu", NO_RUN)
            for key, table in part.items()}


def as_loaders(parts: dict[str, pd.DataFrame]) -> dict:
    """Parts as the catalog hands them to `summarise_library`: a loader per part."""
    return {key: (lambda table=table: table) for key, table in parts.items()}


def pipeline_windows(files: dict[str, str], model, root) -> pd.DataFrame:
    """Window rows of `files` (under `root`) as the inference pipeline's node writes them, concatenated."""
    return pd.concat(pipeline_parts(AudioListing(files, root), model).values(), ignore_index=True)


@pytest.fixture
def music_folder(tmp_path):
    folder = tmp_path / "my_music"
    write_audio(folder / "long song.wav", np.concatenate([tone(2.0, 8000, 1, 300), tone(2.0, 8000, 1, 900),
                                                         tone(1.5, 8000, 1, 2000)]), 8000)  # 3 windows, last padded
    write_audio(folder / "short.mp3", tone(0.8, 22050, 2, 500), 22050)                    # 1 padded window
    write_audio(folder / "hifi.flac", tone(2.0, 44100, 2, 700), 44100)                    # exactly one window
    (folder / "broken.mp3").write_bytes(b"not audio at all" * 20)
    return folder


def folder_digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_pipeline_reloads_the_model_exactly_and_aggregates_windows(tmp_path, music_folder):
    model = tiny_model()
    TorchModelDataset(filepath=str(tmp_path / "models" / "trained_model"), version=Version(None, None)).save(model)
    before = folder_digest(music_folder)
    parts = {"type": "music_emotion.datasets.ParquetPartsDataset", "path": str(tmp_path / "parts")}
    catalog = DataCatalog.from_config({
        "inference_audio": {"type": "music_emotion.datasets.AudioFolderDataset", "path": str(music_folder),
                            "recursive": True},
        "inference_model": {"type": "music_emotion.datasets.TorchModelDataset",
                            "filepath": str(tmp_path / "models" / "trained_model"), "versioned": True},
        "library_predictions": parts, "library_predictions_done": parts,
        "inference_predictions": {"type": "pandas.CSVDataset", "filepath": str(tmp_path / "pred.csv")},
        "library_errors": {"type": "pandas.CSVDataset", "filepath": str(tmp_path / "errors.csv")},
        "inference_va_plot": {"type": "matplotlib.MatplotlibDataset", "filepath": str(tmp_path / "va.png")},
        "run_lineage": {"type": "music_emotion.datasets.RunLineageDataset"},
    })
    catalog["params:inference"] = PARAMS
    catalog["params:inference.plot"] = PARAMS["plot"]
    catalog["params:dask"] = SINGLE
    catalog["params:device"] = "cpu"
    SequentialRunner().run(create_pipeline(), catalog)

    table = pd.concat([load() for _, load in sorted(catalog.load("library_predictions").items())])
    per_file = catalog.load("inference_predictions").set_index("file")
    assert folder_digest(music_folder) == before  # nothing in the input folder is modified
    assert (tmp_path / "va.png").stat().st_size > 0
    assert catalog.load("library_errors")["file"].tolist() == ["broken.mp3"]
    assert per_file.loc["long song.wav", "n_windows"] == 8 and per_file.loc["broken.mp3", "status"] == "skipped"

    long_rows = table[table["file"] == "long song.wav"]
    chunks = list(iter_windows(music_folder / "long song.wav", MEL))  # 2 s chunks: 2 + 2 + 1.5 s of audio
    assert [round(c[0], 3) for c in chunks] == [0.0, 2.0, 4.0] and chunks[-1][2]  # last chunk padded
    # every model window of every chunk, 0.5 s apart, inside the real audio of the last chunk
    expected_starts = [round(start + f * 256 / 8000, 3) for start, _, _, valid in chunks
                       for f in window_starts(valid, WINDOW, STRIDE)]
    assert long_rows["segment_start_s"].tolist() == expected_starts and len(expected_starts) == 8
    assert not long_rows["padded"].any()
    # exact round trip: the reloaded model gives what the original gives on the same spectrograms
    spectrograms = np.stack([c[1] for c in chunks])
    expected = predict_songs(model, spectrograms, np.arange(3), np.array([c[3] for c in chunks]), 4,
                             torch.device("cpu"))
    np.testing.assert_array_equal(long_rows[["valence", "arousal"]].to_numpy(dtype=np.float32), expected.windows)
    np.testing.assert_allclose(long_rows["file_valence"], expected.windows[:, 0].mean(), rtol=1e-6)
    np.testing.assert_allclose(long_rows["file_arousal"], expected.windows[:, 1].mean(), rtol=1e-6)
    np.testing.assert_allclose(per_file.loc["long song.wav", "valence"], expected.windows[:, 0].mean(), rtol=1e-6)
    assert table[["valence", "arousal"]].abs().max().max() <= 1.0  # the documented range, every window

    by_file = table.groupby("file")["status"].agg(list).to_dict()
    assert by_file["short.mp3"] == ["padded"]  # 0.8 s: one window, padded and flagged
    assert by_file["hifi.flac"] == ["ok"] * 3
    assert by_file["broken.mp3"] == ["skipped"]
    assert "not a recognised audio format" in table.loc[table["file"] == "broken.mp3", "reason"].item()
    assert set(table["model"]) == {"gan"}


def test_preprocessing_comes_from_the_model(music_folder):
    """A native-mode model trained on other mel settings gets exactly its own input shape."""
    other = mel_config(sample_rate=8000, duration=1.0, n_fft=256, hop_length=128, n_mels=8)
    model = tiny_model(mode="native", extraction=other)
    files = {"hifi": str(music_folder / "hifi.flac")}
    table = pipeline_windows(files, model, music_folder)
    # 1 s chunks of 63 frames (hop 128): windows of 31 frames 16 apart -> 0, 16, 32 in each chunk
    assert table["segment_start_s"].tolist() == [0.0, 0.256, 0.512, 1.0, 1.256, 1.512]


def test_empty_folder_and_all_broken_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no audio file"):
        pipeline_parts(AudioListing({}, tmp_path), tiny_model())
    (tmp_path / "x.mp3").write_bytes(b"")
    listing = AudioListing({"x": str(tmp_path / "x.mp3")}, tmp_path)
    parts = pipeline_parts(listing, tiny_model())
    with pytest.raises(ValueError, match="could be decoded"):
        summarise_library(as_loaders(parts), listing, tiny_model())


def test_model_without_extraction_settings_is_refused(music_folder):
    model = tiny_model()
    model.config["extraction"] = {}
    with pytest.raises(ValueError, match="retrain"):
        pipeline_windows({"hifi": str(music_folder / "hifi.flac")}, model, music_folder)


def test_missing_model_says_which_pipeline_to_run(tmp_path):
    dataset = TorchModelDataset(filepath=str(tmp_path / "none"), version=Version(None, None),
                                missing_hint="run `kedro run --pipelines training`")
    with pytest.raises(DatasetError, match="training"):
        dataset.load()


@pytest.mark.parametrize(("v", "a", "quadrant"), [(0.5, 0.5, "happy / excited"), (-0.5, 0.5, "angry / tense"),
                                                  (-0.5, -0.5, "sad / depressed"), (0.5, -0.5, "calm / relaxed")])
def test_quadrants(v, a, quadrant):
    assert quadrant_of(v, a) == quadrant


def test_va_plot_has_names_and_quadrants():
    from music_emotion.pipelines.inference.nodes import plot_va_plane

    table = pd.DataFrame({"file": ["a.mp3", "b.wav", "c.mp3"], "status": ["ok", "ok", "skipped"],
                          "valence": [0.2, -0.4, np.nan], "arousal": [0.1, -0.6, np.nan], "model": "gan"})
    figure = plot_va_plane(table, PARAMS["plot"])
    texts = {t.get_text() for t in figure.axes[0].texts}
    assert {"a.mp3", "b.wav", "happy / excited", "calm / relaxed", "sad / depressed", "angry / tense"} <= texts
    assert "c.mp3" not in texts
    assert "valence" in figure.axes[0].get_xlabel()


def test_va_plot_of_a_large_folder_numbers_the_points_and_lists_the_names():
    from music_emotion.pipelines.inference.nodes import plot_va_plane

    names = [f"song number {i:02d}.mp3" for i in range(50)]
    table = pd.DataFrame({"file": names, "status": "ok", "valence": np.linspace(-1, 1, 50),
                          "arousal": np.linspace(1, -1, 50), "model": "gan"})
    figure = plot_va_plane(table, PARAMS["plot"])
    plane, listing = figure.axes
    assert {t.get_text() for t in plane.texts} >= {"1", "50"}  # numbers at the points, not 50 long names
    listed = "\n".join(t.get_text() for t in listing.texts)
    assert "  1  song number 00.mp3" in listed and " 50  song number 49.mp3" in listed


def test_hostile_file_names_are_neutralised_in_the_csv(tmp_path, music_folder):
    hostile = music_folder / '=HYPERLINK("evil","click").wav'
    write_audio(hostile, tone(1.0, 8000, 1, 440), 8000)
    listing, model = AudioListing({"h": str(hostile)}, music_folder), tiny_model()
    table, _ = summarise_library(as_loaders(pipeline_parts(listing, model)), listing, model)
    path = tmp_path / "out.csv"
    table.to_csv(path, index=False)
    stored = pd.read_csv(path)["file"].unique().tolist()
    assert stored == ["'" + hostile.name]  # shown as text by spreadsheets, still recognisable


def test_an_ast_model_gets_its_own_fbank_input_and_the_log_says_which_family(tmp_path, music_folder, caplog):
    """Inference takes either family: an AST saved through the catalog reloads as an AST, its windows are cut from
    16 kHz Kaldi filter banks (10 ms frames), and the log names the family it used."""
    import logging

    from music_emotion.audio.fbank import FbankConfig
    from music_emotion.data.corpus import Part
    from music_emotion.data.spectrograms import SpectrogramSet
    from music_emotion.models.ast_regression import ASTModelParams, build_ast_regressor

    fbank = FbankConfig(16000, 16, 25.0, 10.0, 20.0, 0.97, "soxr_hq", 2.0, 0.0)
    values = np.random.default_rng(0).normal(-5, 2, (4, 16, fbank.n_frames)).astype(np.float32)
    features = SpectrogramSet(ids=[0, 1, 2, 3], values=values, meta={"extraction": fbank.to_dict()})
    train = Part("train", [0, 1, 2, 3], np.arange(4), np.zeros((4, 2), np.float32), np.full(4, fbank.n_frames))
    tiny_ast = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
                "num_mel_bins": 16, "max_length": 64, "patch_size": 8, "frequency_stride": 8, "time_stride": 8}
    params = ASTModelParams.from_params(parameters("training.ast", checkpoint=None, ast_config=tiny_ast,
                                                   normalisation="dataset", window_stride_seconds=0.5))
    torch.manual_seed(0)
    dataset = TorchModelDataset(filepath=str(tmp_path / "ast_model"))
    dataset.save(build_ast_regressor(params, features, train).eval())
    model = dataset.load()
    assert model.family == "ast"

    with caplog.at_level(logging.INFO, logger="music_emotion.pipelines.inference.nodes"):  # names the family
        table = pipeline_windows({"hifi": str(music_folder / "hifi.flac")}, model, music_folder)
    # a 2 s chunk = 198 frames of 10 ms: 64-frame windows 50 frames apart, plus one ending at the last frame
    assert table["segment_start_s"].tolist() == [0.0, 0.5, 1.0, 1.34]
    assert "AST (random init) on kaldi_fbank features at 16000 Hz" in caplog.text
    chunk = next(iter_windows(music_folder / "hifi.flac", fbank))[1]
    expected = predict_songs(model, chunk[None], np.arange(1), np.array([fbank.n_frames]), 4, torch.device("cpu"))
    np.testing.assert_array_equal(table[["valence", "arousal"]].to_numpy(dtype=np.float32), expected.windows)
