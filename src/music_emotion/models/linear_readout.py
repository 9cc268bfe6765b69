"""A stored linear read-out (standardise, then affine): the ridge baseline's and the embedding probe's arithmetic.

Kept as plain numbers (JSON lists, or buffers of a served model) and applied by these functions only, so the
pipeline's scores and a served model's predictions are the same computation on the same numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from music_emotion.data.windows import average_by_song

READOUT_KEYS = ("scaler_mean", "scaler_scale", "coef", "intercept")


def predict_linear(readout: Mapping[str, Any], features: np.ndarray) -> np.ndarray:
    """(n, 2) float64 predictions of a stored read-out for (n, dim) features."""
    scaled = (np.asarray(features, dtype=np.float64) - np.asarray(readout["scaler_mean"])) \
        / np.asarray(readout["scaler_scale"])
    return scaled @ np.asarray(readout["coef"]).T + np.asarray(readout["intercept"])


def window_predictions(readout: Mapping[str, Any], embeddings: np.ndarray) -> np.ndarray:
    """(n, 2) float32: the probe applied to each window embedding, as a served model returns them per window."""
    return predict_linear(readout, embeddings).astype(np.float32)


def probe_song_predictions(readout: Mapping[str, Any], values: np.ndarray, rows: np.ndarray,
                           valid_windows: np.ndarray) -> np.ndarray:
    """(n, 2) float32: each song's mean over its real windows of `window_predictions`, averaged by the code that
    averages a served model's windows (`average_by_song`). For a linear probe this is the probe of the mean
    embedding (what it was fitted on) up to float rounding; computed this way, the pipeline's score of a song and
    the served model's prediction of its audio are the same numbers, bit for bit, when the embeddings are."""
    rows, counts = np.asarray(rows, dtype=np.int64), np.asarray(valid_windows, dtype=np.int64)
    chosen = np.asarray(values[rows])
    windows = np.concatenate([chosen[i, : counts[i]] for i in range(len(rows))]) if len(rows) else \
        np.zeros((0, values.shape[-1]), dtype=values.dtype)
    positions = np.repeat(np.arange(len(rows), dtype=np.int64), counts)
    return average_by_song(window_predictions(readout, windows), positions, len(rows))
