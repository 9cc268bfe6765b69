"""Tiny in-memory stand-ins for data_processing / gan_augmentation outputs and tiny ViT parameters."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from music_emotion.audio import MelConfig
from music_emotion.spectrograms import SpectrogramSet

N_MELS, N_FRAMES = 16, 40
TINY_VIT = {
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "patch_size": 8,
    "image_size": 16,
}
TINY_PARAMS = {
    "model": {"checkpoint": None, "vit_config": TINY_VIT, "head_hidden_size": 16, "head_dropout": 0.0},
    "training": {"epochs": 2, "batch_size": 8, "eval_batch_size": 16, "learning_rate": 1e-3},
    "baselines": {"ridge": {"alphas": [1.0, 10.0]}},
    "evaluation": {"n_resamples": 50},
}


def brightness_spectrograms(targets: np.ndarray, seed: int) -> np.ndarray:
    """dB spectrograms whose brightness encodes the targets: in the lower (valence) / upper (arousal) mel
    half, the first (t + 1) / 2 of the frames are loud (-10 dB) and the rest quiet (-70 dB), + noise.
    So the mean level of each half is linear in its target (a ViT sees it as a spatial pattern)."""
    rng = np.random.default_rng(seed)
    n = len(targets)
    values = np.full((n, N_MELS, N_FRAMES), -70.0, dtype=np.float32)
    loud_frames = np.rint((np.asarray(targets) + 1) / 2 * N_FRAMES).astype(int)
    half = N_MELS // 2
    for i, (valence_frames, arousal_frames) in enumerate(loud_frames):
        values[i, :half, :valence_frames] = -10.0
        values[i, half:, :arousal_frames] = -10.0
    values += rng.normal(0, 3, size=values.shape).astype(np.float32)
    return np.clip(values, -80, 0).astype(np.float32)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread, and the 2 shared cores are never oversubscribed."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def tiny_params():
    return copy.deepcopy(TINY_PARAMS)


@pytest.fixture
def real_data():
    """(mel_spectrograms, emotion_labels, song_splits): 40 songs, brightness = target, 2 unlabelled extra ids."""
    rng = np.random.default_rng(0)
    ids = list(range(1000, 1040))
    targets = rng.uniform(-1, 1, size=(len(ids), 2)).astype(np.float32)
    extraction = MelConfig(n_mels=N_MELS, duration=1.0, hop_length=512, sample_rate=22050).to_dict()
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
