"""AST features: the project's vectorised Kaldi filter banks agree with transformers' ASTFeatureExtractor."""

from __future__ import annotations

import numpy as np
import pytest

from music_emotion.audio.decoding import decode_audio, extract_clip
from music_emotion.audio.fbank import FbankConfig, kaldi_fbank, kaldi_mel_filters
from music_emotion.audio.log_mel import feature_config
from tests.audio_fixtures import write_audio
from tests.conf_params import parameters

# transformers warns that a 128-bin Kaldi bank at 16 kHz has an empty filter; it is the checkpoints' own setting
pytestmark = pytest.mark.filterwarnings("ignore:At least one mel filter has all zero values")

AUDIOSET = FbankConfig.from_params(parameters("data_processing.ast_features"),
                                   {"duration": 12.0, "offset": 0.0})


def music_like(seconds: float, seed: int = 0) -> np.ndarray:
    """A gliding tone, a few harmonics, noise and silence: every part of the pipeline (DC, pre-emphasis, floor)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    x = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.2 * t)) + 0.1 * np.sin(2 * np.pi * 1760 * t) + 0.02
    x += 0.05 * rng.standard_normal(len(t))
    x[len(x) // 3 : len(x) // 3 + 8000] = 0.0  # half a second of digital silence
    return x.astype(np.float32)


def extractor():
    from transformers import ASTFeatureExtractor

    return ASTFeatureExtractor()  # the MIT AudioSet checkpoints' preprocessor: 16 kHz, 128 bins, 1024 frames


def test_features_match_transformers_ast_feature_extractor():
    reference = extractor()
    audio = music_like(12.0)
    expected = reference(audio, sampling_rate=16000, return_tensors="np")["input_values"][0]  # (1024, 128)
    ours = kaldi_fbank(audio, AUDIOSET)  # (128, 1198): the whole 12 s, stored unnormalised
    assert ours.shape == (128, AUDIOSET.n_frames) == (128, 1 + (12 * 16000 - 400) // 160)
    normalised = (ours.T[:1024] - reference.mean) / (2 * reference.std)  # what ASTForEmotionRegression.predict does
    np.testing.assert_allclose(normalised, expected, rtol=0, atol=1e-5)


def test_short_audio_matches_where_the_extractor_has_real_frames():
    reference = extractor()
    audio = music_like(3.0, seed=1)
    expected = reference(audio, sampling_rate=16000, return_tensors="np")["input_values"][0]
    ours = kaldi_fbank(audio, AUDIOSET)
    real = 1 + (len(audio) - 400) // 160
    assert ours.shape[1] == real
    np.testing.assert_allclose((ours.T - reference.mean) / (2 * reference.std), expected[:real], atol=1e-5)


def test_mel_filters_are_transformers_kaldi_filters():
    from transformers.audio_utils import mel_filter_bank

    expected = mel_filter_bank(num_frequency_bins=257, num_mel_filters=128, min_frequency=20, max_frequency=8000,
                               sampling_rate=16000, norm=None, mel_scale="kaldi", triangularize_in_mel_space=True)
    np.testing.assert_allclose(kaldi_mel_filters(AUDIOSET), expected, atol=1e-12)


def test_a_file_becomes_stored_fbank_features_through_the_extraction_path(tmp_path):
    """Stereo 44.1 kHz on disk -> decoded to mono 16 kHz, padded to the span, features; silence stays finite."""
    path = tmp_path / "song.flac"
    t = np.arange(4 * 44100) / 44100
    write_audio(path, np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 660 * t)], axis=1), 44100)
    config = FbankConfig(**{**AUDIOSET.to_dict(), "duration": 5.0})
    result = extract_clip("song", path, config)
    assert result.status == "padded" and result.spectrogram.shape == (128, config.n_frames)
    assert np.isfinite(result.spectrogram).all()
    decoded = decode_audio(path, 16000)
    np.testing.assert_array_equal(result.spectrogram, kaldi_fbank(np.pad(decoded, (0, 16000)), config))
    # the padding is the log floor, never -inf
    assert result.spectrogram[:, -1].max() == pytest.approx(np.log(np.finfo(np.float32).eps))
    assert config.frames_for(result.audio_seconds) == 1 + (4 * 16000 - 400) // 160
    assert feature_config(config.to_dict()) == config  # what a model stores rebuilds the same features


def test_bad_settings_name_the_parameter():
    bad = {**parameters("data_processing.ast_features"), "low_freq": 9000.0}
    with pytest.raises(ValueError, match=r"data_processing.ast_features.low_freq"):
        FbankConfig.from_params(bad, {"duration": 1.0, "offset": 0.0})
    with pytest.raises(ValueError, match=r"data_processing.ast_features: unknown key\(s\) \['hop'\]"):
        FbankConfig.from_params({**parameters("data_processing.ast_features"), "hop": 1},
                                {"duration": 1.0, "offset": 0.0})
