"""A stored read-out of features: standardise, then affine (ridge) or one hidden ReLU layer and affine (MLP).

The ridge baseline's and the embedding probes' numbers are kept as plain numbers (JSON lists, or buffers of a
served model) and applied by these functions only, so the pipeline's scores and a served model's predictions are
the same computation on the same numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from music_emotion.data.windows import average_by_song

LINEAR_KEYS = ("scaler_mean", "scaler_scale", "coef", "intercept")
MLP_KEYS = ("scaler_mean", "scaler_scale", "hidden_weight", "hidden_bias", "coef", "intercept")


def readout_keys(kind: str) -> tuple[str, ...]:
    """The arrays a read-out of `kind` (`ridge` | `mlp`) stores."""
    return MLP_KEYS if kind == "mlp" else LINEAR_KEYS


def predict_readout(readout: Mapping[str, Any], features: np.ndarray) -> np.ndarray:
    """(n, 2) float64 predictions of a stored read-out for (n, dim) features."""
    x = (np.asarray(features, dtype=np.float64) - np.asarray(readout["scaler_mean"])) \
        / np.asarray(readout["scaler_scale"])
    if "hidden_weight" in readout:
        x = np.maximum(x @ np.asarray(readout["hidden_weight"]).T + np.asarray(readout["hidden_bias"]), 0.0)
    return x @ np.asarray(readout["coef"]).T + np.asarray(readout["intercept"])


def window_predictions(readout: Mapping[str, Any], embeddings: np.ndarray) -> np.ndarray:
    """(n, 2) float32: the probe applied to each window embedding, as a served model returns them per window."""
    return predict_readout(readout, embeddings).astype(np.float32)


def real_windows(values: np.ndarray, rows: np.ndarray, valid_windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the real windows of the songs at `rows`, in song then window order; the position of each one's song)."""
    rows, counts = np.asarray(rows, dtype=np.int64), np.asarray(valid_windows, dtype=np.int64)
    chosen = np.asarray(values[rows])
    windows = np.concatenate([chosen[i, : counts[i]] for i in range(len(rows))]) if len(rows) else \
        np.zeros((0, values.shape[-1]), dtype=values.dtype)
    return windows, np.repeat(np.arange(len(rows), dtype=np.int64), counts)


def probe_song_predictions(readout: Mapping[str, Any], values: np.ndarray, rows: np.ndarray,
                           valid_windows: np.ndarray) -> np.ndarray:
    """(n, 2) float32: each song's mean over its real windows of `window_predictions`, averaged by the code that
    averages a served model's windows (`average_by_song`). For a linear probe this is the probe of the mean
    embedding (what it was fitted on) up to float rounding; computed this way, the pipeline's score of a song and
    the served model's prediction of its audio are the same numbers, bit for bit, when the embeddings are."""
    windows, positions = real_windows(values, rows, valid_windows)
    return average_by_song(window_predictions(readout, windows), positions, len(np.asarray(rows)))
