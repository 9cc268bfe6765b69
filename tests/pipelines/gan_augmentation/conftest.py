"""Tiny, learnable toy data for the GAN tests: 1 x 16 x 64 spectrograms whose content depends on V/A."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from music_emotion.data.spectrograms import SpectrogramSet
from tests.conf_params import mel_config, parameters
from tests.torch_fixtures import one_torch_thread  # noqa: F401 - autouse for this module

WINDOW_FRAMES = 32
# conf/base's gan_augmentation, shrunk: a tiny GAN on 32-frame windows for 20 steps.
TINY_OVERRIDES = {
    "latent_dim": 8,
    "window_seconds": WINDOW_FRAMES * 512 / 22050,
    "generator.base_channels": 16, "generator.n_upsample": 2, "generator.min_channels": 8,
    "generator.embedding_dim": 16,
    "discriminator.base_channels": 8, "discriminator.n_layers": 2, "discriminator.max_channels": 16,
    "training.steps": 20, "training.eval_every_steps": 10, "training.batch_size": 8,
    "training.generator_lr": 2.0e-3, "training.discriminator_lr": 2.0e-3, "training.cpu_threads": None,
    "probe.n_samples": 32, "probe.batch_size": 16,
    "generation.n_synthetic": 20, "generation.batch_size": 8, "generation.condition_sampling": "uniform",
    "quality.pairwise_max_samples": 50,
}


def band_starts(valence: float, arousal: float, n_mels: int) -> tuple[int, int]:
    half = n_mels // 2
    return int(round((valence + 1) / 2 * (half - 2))), half + int(round((arousal + 1) / 2 * (half - 2)))


def read_toy_labels(values: np.ndarray) -> np.ndarray:
    """(valence, arousal) read back from where the loudest 2-bin band of each mel half sits."""
    profile = np.asarray(values).mean(axis=2)
    half = profile.shape[1] // 2
    pairs = profile[:, :-1] + profile[:, 1:]  # loudness of each 2-bin band
    low = pairs[:, : half - 1].argmax(axis=1)
    high = pairs[:, half : 2 * half - 1].argmax(axis=1)
    return np.stack([low / (half - 2) * 2 - 1, high / (half - 2) * 2 - 1], axis=1)


def make_toy_data(n_songs: int = 24, n_mels: int = 16, n_frames: int = 64, seed: int = 0, n_train: int | None = None):
    """Quiet floor at -70 dB plus two bright 2-bin bands: where the one in the lower mel half sits follows
    valence, where the one in the upper half sits follows arousal (labels plainly visible)."""
    rng = np.random.default_rng(seed)
    ids = list(range(1000, 1000 + n_songs))
    valence = rng.uniform(-1, 1, n_songs)
    arousal = rng.uniform(-1, 1, n_songs)
    values = np.full((n_songs, n_mels, n_frames), -70.0, dtype=np.float32)
    values += rng.normal(0, 2.0, values.shape).astype(np.float32)
    for i in range(n_songs):
        low, high = band_starts(valence[i], arousal[i], n_mels)
        values[i, low : low + 2, :] = -20.0
        values[i, high : high + 2, :] = -20.0
    values = np.clip(values, -80.0, 0.0)
    spectrograms = SpectrogramSet(
        ids=ids,
        values=values,
        meta={"extraction": mel_config(n_mels=n_mels, ref="max", top_db=80.0, sample_rate=22050, hop_length=512,
                                       duration=30.0).to_dict()},
    )
    labels = pd.DataFrame(
        {
            "song_id": np.asarray(ids, dtype=np.int64),
            "valence": valence,
            "arousal": arousal,
            "valence_mean": 5 + 4 * valence,
            "arousal_mean": 5 + 4 * arousal,
            "source_file": "toy.csv",
        }
    )
    n_train = n_train if n_train is not None else int(n_songs * 2 / 3)
    n_val = (n_songs - n_train) // 2
    splits = {
        "train": ids[:n_train],
        "val": ids[n_train : n_train + n_val],
        "test": ids[n_train + n_val :],
        "seed": seed,
        "fractions": {},
    }
    return spectrograms, labels, splits


@pytest.fixture
def toy_data():
    return make_toy_data()


@pytest.fixture
def tiny_params():
    return parameters("gan_augmentation", **TINY_OVERRIDES)


