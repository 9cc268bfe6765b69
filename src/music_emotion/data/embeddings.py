"""A frozen encoder's cached window embeddings, (songs, windows, dim), as a feature set: how many windows a span
holds and how a song's embedding is read from them (the mean of its real windows; `models.audio_encoder.embed_songs`
computes the set and leaves the rows of windows without audio at zero)."""

from __future__ import annotations

import math

import numpy as np


def window_count(span_seconds: float, window_seconds: float) -> int:
    """Whole encoder windows in the stored span (at least one: a span shorter than a window is one padded window)."""
    return max(1, int(math.floor(span_seconds / window_seconds + 1e-9)))


def song_embeddings(values: np.ndarray, rows: np.ndarray, valid_windows: np.ndarray) -> np.ndarray:
    """(n, dim) float64: each song's mean over its real windows (MARBLE's protocol: average the window embeddings)."""
    chosen = np.asarray(values[np.asarray(rows)], dtype=np.float64)
    counts = np.asarray(valid_windows, dtype=np.int64)
    mask = np.arange(chosen.shape[1])[None, :] < counts[:, None]
    return (chosen * mask[:, :, None]).sum(axis=1) / np.maximum(counts, 1)[:, None]
