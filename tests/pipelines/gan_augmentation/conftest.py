"""Tiny, learnable toy data for the GAN tests: 1 x 16 x 64 spectrograms whose content depends on V/A."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from music_emotion.spectrograms import SpectrogramSet

TINY_PARAMS = {
    "latent_dim": 8,
    "db_range": "auto",
    "generator": {"base_channels": 16, "n_upsample": 2, "min_channels": 8},
    "discriminator": {"base_channels": 8, "n_layers": 2, "max_channels": 16, "dropout": 0.1},
    "training": {
        "epochs": 2,
        "batch_size": 8,
        "generator_lr": 2.0e-3,
        "discriminator_lr": 2.0e-3,
        "betas": [0.5, 0.999],
        "real_label": 0.9,
        "mixed_precision": True,
    },
    "generation": {"n_synthetic": 20, "condition_sampling": "uniform", "label_jitter": 0.05, "batch_size": 8},
    "quality": {"frechet_ridge": 1.0e-6, "ridge_alpha": 1.0, "pairwise_max_samples": 50, "collapse_ratio_threshold": 0.5},
}


def make_toy_data(n_songs: int = 24, n_mels: int = 16, n_frames: int = 64, seed: int = 0, n_train: int | None = None):
    """Quiet floor at -70 dB plus a bright band whose mel position follows valence and level follows arousal."""
    rng = np.random.default_rng(seed)
    ids = list(range(1000, 1000 + n_songs))
    valence = rng.uniform(-1, 1, n_songs)
    arousal = rng.uniform(-1, 1, n_songs)
    values = np.full((n_songs, n_mels, n_frames), -70.0, dtype=np.float32)
    values += rng.normal(0, 2.0, values.shape).astype(np.float32)
    for i in range(n_songs):
        centre = int(round((valence[i] + 1) / 2 * (n_mels - 3))) + 1
        values[i, centre - 1 : centre + 2, :] = -25.0 + 15.0 * arousal[i]
    values = np.clip(values, -80.0, 0.0)
    spectrograms = SpectrogramSet(
        ids=ids,
        values=values,
        meta={"extraction": {"n_mels": n_mels, "ref": "max", "top_db": 80.0, "sample_rate": 22050}},
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
    return copy.deepcopy(TINY_PARAMS)


@pytest.fixture(autouse=True)
def _single_torch_thread():
    """Tiny models run faster (and steadier on a shared 2-core machine) on one intra-op thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
