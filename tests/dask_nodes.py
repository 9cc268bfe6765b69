"""Node functions for the DaskRunner tests: importable by worker processes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def make(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64)


def double(raw: np.ndarray) -> np.ndarray:
    return raw * 2


def total(doubled: np.ndarray, raw: np.ndarray) -> float:
    return float(doubled.sum() + raw.sum())


def die_once(raw: np.ndarray, marker: str) -> np.ndarray:
    """Kills its worker process the first time (as an OOM kill or a preempted machine would), then works."""
    if not Path(marker).exists():
        Path(marker).write_text("died")
        os._exit(1)
    return raw + 1


def always_die(raw: np.ndarray) -> np.ndarray:
    os._exit(1)


def spectral_model(raw: np.ndarray):
    """The GAN's discriminator (spectral norm = parametrized layers, which Dask's torch serializer cannot ship)."""
    from music_emotion.models.gan import SpectrogramDiscriminator
    from tests.conf_params import parameters

    return SpectrogramDiscriminator({"channels": 1, "condition_dim": 2, **parameters("gan_augmentation.discriminator")})


def weight_sum(model) -> float:
    return float(sum(p.detach().double().sum() for p in model.parameters()))


class UnpicklableDataset:
    """A catalog entry holding a lock (as a dataset with an open connection would): it cannot travel to a worker."""

    def __new__(cls):
        import threading

        from kedro.io import MemoryDataset

        dataset = MemoryDataset(5)
        dataset.lock = threading.Lock()
        return dataset
