"""The frozen music encoder of embedding arms, and the data_processing node that caches its embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from music_emotion.audio.listing import AudioListing
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.datasets import SpectrogramDataset
from music_emotion.models.audio_encoder import EncoderParams, FrozenAudioEncoder
from music_emotion.models.backbone_loading import CheckpointUnavailableError
from music_emotion.pipelines.data_processing.nodes import extract_audio_embeddings
from music_emotion.study.unit_records import content_fingerprint
from tests.audio_fixtures import tone, write_audio
from tests.encoder_fixtures import TINY_CLAP, encoder_params, save_tiny_clap

ENGINE = {"engine": "single", "scheduler_address": None, "n_workers": None, "connect_timeout_s": 5,
          "min_audio_seconds": 0.0}
SPAN = {"duration": 3.0, "offset": 0.0, "resample_type": "soxr_hq"}


@pytest.fixture(scope="module")
def tiny_clap(tmp_path_factory):
    return save_tiny_clap(tmp_path_factory.mktemp("clap") / "tiny_clap")


def test_a_saved_encoder_loads_from_its_folder_with_its_own_feature_extractor(tiny_clap):
    encoder = FrozenAudioEncoder(EncoderParams.from_params(encoder_params(str(tiny_clap))), seed=0)
    assert encoder.sample_rate == 8000 and encoder.window_seconds == 1.0 and encoder.dim == TINY_CLAP["projection_dim"]
    windows = [np.sin(np.linspace(0, 400 * (i + 1), 8000)).astype(np.float32) for i in range(3)] + \
        [np.zeros(3000, np.float32)]  # a short window is padded by the extractor's own rule
    first, second = encoder.embed(windows), encoder.embed(windows)
    assert first.shape == (4, encoder.dim) and first.dtype == np.float32 and np.isfinite(first).all()
    np.testing.assert_array_equal(first, second)  # frozen and in eval mode: no dropout, no drift
    assert not np.allclose(first[0], first[1])
    assert not any(p.requires_grad for p in encoder.model.parameters())


def test_a_random_encoder_is_the_same_for_a_seed_and_another_for_another_seed():
    params = EncoderParams.from_params(encoder_params(None))
    window = [np.random.default_rng(0).normal(0, 0.1, 8000).astype(np.float32)]
    a, b, c = (FrozenAudioEncoder(params, seed).embed(window) for seed in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    state = torch.random.get_rng_state()
    FrozenAudioEncoder(params, 5)
    assert torch.equal(state, torch.random.get_rng_state())  # the run's own random state is left alone


def test_an_uncached_hub_encoder_offline_fails_fast_with_the_download_line(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    params = EncoderParams.from_params(encoder_params("laion/larger_clap_music"))
    with pytest.raises(CheckpointUnavailableError, match=r"hf download laion/larger_clap_music --local-dir "
                                                         r"data/06_models/pretrained/clap"):
        FrozenAudioEncoder(params, seed=0)


def test_bad_encoder_settings_name_the_parameter():
    with pytest.raises(ValueError, match=r"data_processing.embeddings: .*batch_size"):
        EncoderParams.from_params(encoder_params(None, batch_size=0))
    with pytest.raises(ValueError, match=r"data_processing.embeddings: unknown key\(s\) \['layer'\]"):
        EncoderParams.from_params({**encoder_params(None), "layer": 3})


def _songs(tmp_path):
    """Four songs: three of 3 s, one of 1.4 s (its third window holds no audio)."""
    folder = tmp_path / "audio"
    for song, (seconds, pitch) in {2: (3.0, 220), 3: (3.0, 440), 4: (1.4, 330), 5: (3.0, 880)}.items():
        write_audio(folder / f"{song}.mp3", tone(seconds, 22050, 1, pitch), 22050)
    files = AudioListing({p.stem: str(p) for p in sorted(folder.glob("*.mp3"))}, folder)
    mel = SpectrogramSet(ids=[2, 3, 4, 5], values=np.zeros((4, 2, 2), np.float32),
                         meta={"extraction": {"duration": 3.0, "offset": 0.0}, "valid_frames": [2, 2, 2, 2]})
    return files, mel


def test_the_node_embeds_every_window_of_the_songs_kept_in_their_order_and_caches_them(tmp_path, tiny_clap):
    files, mel = _songs(tmp_path)
    embeddings = extract_audio_embeddings(files, mel, encoder_params(str(tiny_clap), songs_per_chunk=3), SPAN,
                                          ENGINE, 42)
    assert embeddings.ids == [2, 3, 4, 5] and embeddings.values.shape == (4, 3, TINY_CLAP["projection_dim"])
    assert embeddings.meta["valid_frames"] == [3, 3, 2, 3]  # 1.4 s of audio fills two 1 s windows
    assert not embeddings.values[2, 2].any() and embeddings.values[2, :2].any()
    extraction = embeddings.meta["extraction"]
    assert extraction["checkpoint"] == str(tiny_clap) and extraction["duration"] == 3.0
    # chunks of 3 songs embed exactly as one chunk of all four
    whole = extract_audio_embeddings(files, mel, encoder_params(str(tiny_clap), songs_per_chunk=10), SPAN, ENGINE, 42)
    np.testing.assert_array_equal(whole.values, embeddings.values)
    # stored in float16 by the catalog, read back within float16's step
    dataset = SpectrogramDataset(filepath=str(tmp_path / "emb.npy"), storage_dtype="float16")
    dataset.save(embeddings)
    loaded = dataset.load()
    np.testing.assert_allclose(np.asarray(loaded.values, np.float32), embeddings.values, rtol=2e-3, atol=1e-4)
    assert loaded.meta["valid_frames"] == [3, 3, 2, 3]


@pytest.mark.slow  # three extractions
def test_another_encoder_makes_another_feature_set(tmp_path, tiny_clap):
    """Whatever reads the embeddings (an experiment's records) sees a new fingerprint when the encoder changes."""
    files, mel = _songs(tmp_path)
    other = save_tiny_clap(tmp_path / "other_clap", seed=1)
    first = extract_audio_embeddings(files, mel, encoder_params(str(tiny_clap)), SPAN, ENGINE, 42)
    again = extract_audio_embeddings(files, mel, encoder_params(str(tiny_clap)), SPAN, ENGINE, 42)
    changed = extract_audio_embeddings(files, mel, encoder_params(str(other)), SPAN, ENGINE, 42)
    assert content_fingerprint(first) == content_fingerprint(again)
    assert content_fingerprint(first) != content_fingerprint(changed)
    assert first.meta["extraction"]["checkpoint"] != changed.meta["extraction"]["checkpoint"]


def test_a_song_that_no_longer_decodes_stops_the_node_naming_it(tmp_path, tiny_clap):
    files, mel = _songs(tmp_path)
    (tmp_path / "audio" / "3.mp3").write_bytes(b"not audio")
    with pytest.raises(ValueError, match=r"1 song\(s\) of mel_spectrograms have no audio embeddings \(\['3.mp3: "):
        extract_audio_embeddings(files, mel, encoder_params(str(tiny_clap)), SPAN, ENGINE, 42)
