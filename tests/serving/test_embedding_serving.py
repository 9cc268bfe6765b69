"""An embedding arm served: the probe + its frozen encoder predict audio files exactly as the pipeline scored them.

The pipeline embeds each song once (data_processing), fits the probe on those cached embeddings and scores TEST
songs from them; a served model runs the encoder again on the file. Both must give the same numbers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from music_emotion.audio.listing import AudioListing
from music_emotion.data.corpus import Corpus
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.models.backbone_loading import CheckpointUnavailableError
from music_emotion.models.base import load_pretrained_model
from music_emotion.models.embedding_probe import EmbeddingProbeRegressor
from music_emotion.pipelines.data_processing.nodes import extract_audio_embeddings
from music_emotion.serving.model_card import card_facts, model_card, model_line
from music_emotion.serving.model_folder import PredictionSettings, write_model_folder
from music_emotion.serving.predictor import EmotionModel
from music_emotion.study import evaluation
from music_emotion.study.probe import build_probe_model, fit_embedding_probe
from tests.audio_fixtures import write_audio
from tests.encoder_fixtures import encoder_params, save_tiny_clap

ENGINE = {"engine": "single", "scheduler_address": None, "n_workers": None, "connect_timeout_s": 5,
          "min_audio_seconds": 0.0}
SPAN = {"duration": 3.0, "offset": 0.0, "resample_type": "soxr_hq"}
SETTINGS = PredictionSettings(min_window_fraction=0.5, batch_size=4, files_per_batch=3, rating_scale=(1.0, 9.0))
IDS = list(range(10, 22))


def _song(song: int) -> np.ndarray:
    """3 s at 22.05 kHz: a pitch and a loudness that depend on the song, so embeddings differ."""
    t = np.arange(int(3.0 * 22050)) / 22050
    rng = np.random.default_rng(song)
    return ((0.1 + 0.05 * (song % 4)) * np.sin(2 * np.pi * (150 + 40 * song) * t)
            + rng.normal(0, 0.01, t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """(files, mel stand-in, labels, splits): 12 songs of exactly the 3 s span, as wav."""
    folder = tmp_path_factory.mktemp("embedding_serving")
    for song in IDS:
        write_audio(folder / "audio" / f"{song}.wav", _song(song), 22050)
    files = AudioListing({str(s): str(folder / "audio" / f"{s}.wav") for s in IDS}, folder / "audio")
    mel = SpectrogramSet(ids=IDS, values=np.zeros((len(IDS), 2, 2), np.float32),
                         meta={"extraction": {"duration": 3.0, "offset": 0.0}, "valid_frames": [2] * len(IDS)})
    rng = np.random.default_rng(0)
    labels = pd.DataFrame({"song_id": IDS, "valence": rng.uniform(-1, 1, len(IDS)),
                           "arousal": rng.uniform(-1, 1, len(IDS))})
    splits = {"train": IDS[:6], "val": IDS[6:9], "test": IDS[9:], "seed": 0, "fractions": {}}
    return folder, files, mel, labels, splits


@pytest.fixture(scope="module")
def tiny_clap(tmp_path_factory):
    return save_tiny_clap(tmp_path_factory.mktemp("clap") / "tiny_clap")


PROBE = {"alphas": [0.1, 10.0], "mlp": {"hidden_size": 8, "weight_decays": [1e-3], "learning_rate": 1e-2,
                                        "epochs": 20, "batch_size": 8}}


def _fitted(corpus, params, probe_kind="ridge"):
    """The pipeline's path: embeddings (stored as the catalog stores them: float16), the probe, the served model."""
    _, files, mel, labels, splits = corpus
    embeddings = extract_audio_embeddings(files, mel, params, SPAN, ENGINE, 42)
    stored = SpectrogramSet(ids=embeddings.ids, values=embeddings.values.astype(np.float16), meta=embeddings.meta)
    probe = fit_embedding_probe(stored, labels, splits, PROBE, {"probe": probe_kind}, 42)
    return stored, probe, build_probe_model(probe, stored, params, 42)


@pytest.mark.parametrize(("checkpoint", "probe_kind"), [
    pytest.param("folder", "ridge", id="encoder-folder"),
    pytest.param(None, "ridge", id="random-encoder", marks=pytest.mark.slow),  # its folder reload: fast test below
    pytest.param("folder", "mlp", id="mlp-probe")])
def test_served_predictions_equal_the_pipelines_scores_bit_for_bit(corpus, tiny_clap, checkpoint, probe_kind):
    params = encoder_params(str(tiny_clap) if checkpoint else None)
    stored, probe, model = _fitted(corpus, params, probe_kind)
    said = "an MLP probe (one hidden layer of 8 ReLU units" if probe_kind == "mlp" else "a ridge probe (alpha"
    assert said in model_line(model) and ("weights are in this folder" in model_line(model)) is (checkpoint is None)
    folder, _, _, labels, splits = corpus
    test = Corpus(stored, labels, splits).test
    scored = evaluation.predict_part(model, stored, test, {}, "cpu")  # what test_predictions holds
    assert np.allclose(scored, evaluation.predict_part(probe, stored, test, {}, "cpu"), atol=0, rtol=0)
    served = EmotionModel(model, SETTINGS, name="clap_probe", device="cpu").predict_many(
        [folder / "audio" / f"{song}.wav" for song in test.ids])
    assert [s.n_windows for s in served] == [3] * len(test.ids)  # 3 s = three 1 s encoder windows
    np.testing.assert_array_equal(np.array([[s.valence, s.arousal] for s in served]), scored)
    # and the windows are the cached embeddings read by the probe: a broken twin (no float16 rounding) is not equal
    unrounded = EmbeddingProbeRegressor({**model.config, "embedding_dtype": "float32"})
    unrounded.load_state_dict(model.state_dict())
    other = EmotionModel(unrounded, SETTINGS, device="cpu").predict_many([folder / "audio" / f"{test.ids[0]}.wav"])
    assert other[0].valence != served[0].valence or other[0].arousal != served[0].arousal


def test_an_exported_probe_names_its_encoder_holds_only_the_probe_and_loads_from_a_local_encoder(
        corpus, tiny_clap, tmp_path, monkeypatch):
    from tests.serving.test_serving import CARD, metrics_for

    _, _, model = _fitted(corpus, encoder_params(str(tiny_clap)))
    facts = card_facts("gan", {"model": "embedding", "label": "CLAP + probe"}, model, metrics_for(model),
                       corpus[4], 42, CARD)
    exported = write_model_folder(model, tmp_path / "clap_probe", SETTINGS, model_card(facts))
    card = (exported / "README.md").read_text()
    assert f"a frozen CLAP audio encoder (`{tiny_clap}`" in card and "the probe's alpha chosen here" in card
    assert "MLP head" not in card
    config = json.loads((exported / "config.json").read_text())
    assert config["family"] == "embedding" and config["encoder"]["checkpoint"] == str(tiny_clap)
    assert "revision" in config["encoder"] and config["extraction"]["kind"] == "waveform"
    dim = config["encoder"]["dim"]
    weights = load_file(str(exported / "model.safetensors"))
    assert {k: tuple(v.shape) for k, v in weights.items()} == {  # the probe's numbers, never the encoder's weights
        "scaler_mean": (dim,), "scaler_scale": (dim,), "coef": (2, dim), "intercept": (2,)}
    song = corpus[0] / "audio" / f"{IDS[-1]}.wav"
    expected = EmotionModel(model, SETTINGS, device="cpu").predict(song)
    # offline, the encoder comes from a local folder (here a copy elsewhere, as `hf download --local-dir` leaves one)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    local = save_tiny_clap(tmp_path / "downloaded_clap")
    again = EmotionModel.from_pretrained(exported, device="cpu", encoder=local).predict(song)
    assert (again.valence, again.arousal) == (expected.valence, expected.arousal)


def test_a_hub_encoder_that_is_not_here_fails_fast_naming_the_download(corpus, tiny_clap, tmp_path, monkeypatch):
    _, _, model = _fitted(corpus, encoder_params(str(tiny_clap)))
    config = {**model.config, "encoder": {**model.config["encoder"], "checkpoint": "laion/larger_clap_music",
                                          "revision": "abc123"}}
    hub_model = EmbeddingProbeRegressor(config)  # built without the encoder: scoring cached embeddings needs none
    hub_model.load_state_dict(model.state_dict())
    assert "laion/larger_clap_music @ abc123" in hub_model.description
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(CheckpointUnavailableError, match=r"hf download laion/larger_clap_music --local-dir"):
        EmotionModel(hub_model, SETTINGS, device="cpu").predict(corpus[0] / "audio" / f"{IDS[0]}.wav")
    with pytest.raises(ValueError, match=r"does not exist: download it with `hf download laion/larger_clap_music"):
        EmotionModel(hub_model, SETTINGS, device="cpu", encoder=tmp_path / "nowhere")


def test_a_random_encoder_travels_in_the_folder_and_must_be_the_one_that_made_the_embeddings(corpus, tmp_path):
    params = encoder_params(None)
    stored, probe, model = _fitted(corpus, params)
    exported = write_model_folder(model, tmp_path / "random_probe", SETTINGS, "card")
    loaded = load_pretrained_model(exported)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    assert any(name.startswith("encoder.") for name in loaded.state_dict())
    with pytest.raises(ValueError, match=r"builds another random encoder .* re-run `kedro run --pipelines "
                                         r"data_processing`"):
        build_probe_model(probe, stored, params, seed=7)  # another seed: another encoder than the embeddings'


def test_an_encoder_folder_is_refused_for_a_network_model():
    from tests.pipelines.inference.test_inference import tiny_model

    with pytest.raises(ValueError, match=r"for embedding-probe models"):
        EmotionModel(tiny_model(), SETTINGS, device="cpu", encoder=".")
