"""Tiny in-memory stand-ins for data_processing / gan_augmentation outputs and tiny ViT parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from music_emotion.audio.fbank import FbankConfig
from music_emotion.data.spectrograms import SpectrogramSet
from tests.conf_params import mel_config, parameters
from tests.torch_fixtures import one_torch_thread  # noqa: F401 - autouse for this module

N_MELS, N_FRAMES = 16, 40
TINY_VIT = {
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "patch_size": 8,
    "image_size": 16,
}
TINY_AST = {
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "num_mel_bins": N_MELS,
    "max_length": 32,
    "patch_size": 8,
    "frequency_stride": 8,
    "time_stride": 8,
}
# conf/base's training with a tiny random-init ViT on 22-frame windows (0.5 s at 22.05 kHz / hop 512)
TINY_OVERRIDES = {
    "model.checkpoint": None, "model.vit_config": TINY_VIT, "model.head_hidden_size": 16, "model.head_dropout": 0.0,
    "model.window_seconds": 0.5, "model.window_stride_seconds": 0.25, "model.patch_stride": 8,
    "model.head_pooling": "mean",
    "optimisation.epochs": 2, "optimisation.batch_size": 8, "optimisation.eval_batch_size": 16,
    "optimisation.learning_rate": 1e-3,
    "optimisation.warmup_fraction": 0.0, "optimisation.budget": "epochs", "evaluation.n_resamples": 50,
    "baselines.ridge.alphas": [1.0, 10.0],
    "ast.checkpoint": None, "ast.ast_config": TINY_AST, "ast.head_hidden_size": 16, "ast.head_dropout": 0.0,
    "ast.window_stride_seconds": 0.16, "ast.normalisation": "dataset",
}


def brightness_spectrograms(targets: np.ndarray, seed: int, n_frames: int = N_FRAMES) -> np.ndarray:
    """dB spectrograms whose level encodes the targets, the same in every frame (so any crop carries it):
    the lower mel half sits at -70 + 60 (valence + 1) / 2 dB, the upper half likewise for arousal, + noise."""
    rng = np.random.default_rng(seed)
    targets = np.asarray(targets, dtype=np.float32)
    values = np.empty((len(targets), N_MELS, n_frames), dtype=np.float32)
    half = N_MELS // 2
    values[:, :half] = (-70 + 60 * (targets[:, 0] + 1) / 2)[:, None, None]
    values[:, half:] = (-70 + 60 * (targets[:, 1] + 1) / 2)[:, None, None]
    values += rng.normal(0, 3, size=values.shape).astype(np.float32)
    return np.clip(values, -80, 0).astype(np.float32)


@pytest.fixture
def tiny_params():
    return parameters("training", **TINY_OVERRIDES)


@pytest.fixture
def real_data():
    """(mel_spectrograms, emotion_labels, song_splits): 40 songs, brightness = target, 2 unlabelled extra ids."""
    rng = np.random.default_rng(0)
    ids = list(range(1000, 1040))
    targets = rng.uniform(-1, 1, size=(len(ids), 2)).astype(np.float32)
    extraction = mel_config(n_mels=N_MELS, duration=1.0, hop_length=512, sample_rate=22050).to_dict()
    mel = SpectrogramSet(ids=ids, values=brightness_spectrograms(targets, 1), meta={"extraction": extraction})
    labels = pd.DataFrame(
        {
            "song_id": np.asarray(ids + [5000, 5001], dtype=np.int64),
            "valence": np.r_[targets[:, 0], 0.0, 0.0],
            "arousal": np.r_[targets[:, 1], 0.0, 0.0],
        }
    )
    splits = {"train": ids[:24], "val": ids[24:32], "test": ids[32:], "seed": 42, "fractions": {}}
    return mel, labels, splits


def fbank_set(ids: list, targets: np.ndarray, seed: int, duration: float = 1.0) -> SpectrogramSet:
    """AST features (kaldi_fbank kind, 16 kHz / 10 ms) whose log energies encode the targets like the dB ones."""
    config = FbankConfig(16000, N_MELS, 25.0, 10.0, 20.0, 0.97, "soxr_hq", duration, 0.0)
    values = brightness_spectrograms(targets, seed, n_frames=config.n_frames) / 8.0  # log energies in [-10, 0]
    return SpectrogramSet(ids=ids, values=values, meta={"extraction": config.to_dict()})


@pytest.fixture
def ast_features(real_data):
    """The AST's features of real_data's songs: same ids, same targets encoded."""
    mel, labels, _ = real_data
    targets = labels.set_index("song_id").loc[mel.ids, ["valence", "arousal"]].to_numpy(np.float32)
    return fbank_set(list(mel.ids), targets, 5)


def embedding_set(ids: list, targets: np.ndarray, seed: int, duration: float = 1.0, dim: int = 8) -> SpectrogramSet:
    """Song embeddings (3 windows x `dim`) whose mean over real windows holds the targets linearly, plus noise; the
    last song has one real window (its other rows are zero, as for a short song)."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(2, dim))
    values = (targets @ mixing)[:, None, :] + rng.normal(0, 0.05, size=(len(ids), 3, dim))
    valid = [3] * (len(ids) - 1) + [1]
    values[-1, 1:] = 0.0
    # described as a hub encoder's (never loaded: scoring cached embeddings needs no encoder)
    extraction = {"kind": "clap_embedding", "checkpoint": "laion/larger_clap_music", "revision": None,
                  "sample_rate": 16000, "window_seconds": 0.5, "dim": dim, "feature_extractor": {}, "encoder": None,
                  "weights": None, "duration": duration, "offset": 0.0, "resample_type": "soxr_hq"}
    return SpectrogramSet(ids=ids, values=values.astype(np.float32),
                          meta={"extraction": extraction, "valid_frames": valid})


@pytest.fixture
def audio_embeddings(real_data):
    """A frozen encoder's embeddings of real_data's songs: same ids, targets linearly readable."""
    mel, labels, _ = real_data
    targets = labels.set_index("song_id").loc[mel.ids, ["valence", "arousal"]].to_numpy(np.float32)
    return embedding_set(list(mel.ids), targets, 6)


@pytest.fixture
def synthetic_data(real_data):
    """(synthetic_spectrograms, synthetic_labels): 24 GAN-like samples with the same shape and dB range."""
    mel = real_data[0]
    rng = np.random.default_rng(3)
    targets = rng.uniform(-1, 1, size=(24, 2)).astype(np.float32)
    ids = [f"gan-{i:06d}" for i in range(24)]
    synthetic = SpectrogramSet(
        ids=ids, values=brightness_spectrograms(targets, 4), meta={**mel.meta, "source": "gan"}
    )
    labels = pd.DataFrame(
        {"sample_id": ids, "valence": targets[:, 0], "arousal": targets[:, 1], "condition_sampling": "uniform"}
    )
    return synthetic, labels
