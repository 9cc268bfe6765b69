"""Linear read-outs with their alpha chosen on VAL songs: the ridge baseline (pooled log-mel statistics) and the
embedding arms' probe (a frozen encoder's song embeddings) are the same fit on different features.

Stored as plain numbers (JSON), no pickle; alpha is picked by the mean CCC on VAL songs, the model is fitted on
TRAIN songs only, so TEST songs never touch anything fitted."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from music_emotion.data import TARGETS
from music_emotion.data.corpus import Corpus
from music_emotion.data.embeddings import song_embeddings
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.study import metrics

logger = logging.getLogger(__name__)


def fit_ridge_on_val(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                     alphas: list[float], parameter: str) -> dict[str, Any]:
    """Standardise on TRAIN, ridge per alpha, keep the alpha with the best mean CCC on VAL; the fitted numbers."""
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    if not alphas:
        raise ValueError(f"{parameter} is empty: give at least one alpha")
    scaler = StandardScaler().fit(x_train)
    val_ccc: dict[str, float] = {}
    best: tuple[float, Any] | None = None
    for alpha in alphas:
        ridge = Ridge(alpha=alpha).fit(scaler.transform(x_train), y_train)
        pred = ridge.predict(scaler.transform(x_val))
        score = float(np.mean([metrics.ccc(y_val[:, i], pred[:, i]) for i in range(len(TARGETS))]))
        val_ccc[str(alpha)] = score
        if best is None or score > best[0]:
            best = (score, ridge)
    ridge = best[1]
    return {"alpha": float(ridge.alpha), "val_ccc_mean_by_alpha": val_ccc, "val_ccc_mean": best[0],
            "scaler_mean": scaler.mean_.tolist(), "scaler_scale": scaler.scale_.tolist(), "coef": ridge.coef_.tolist(),
            "intercept": np.atleast_1d(ridge.intercept_).tolist()}


def predict_linear(model: dict[str, Any], features: np.ndarray) -> np.ndarray:
    """(n, 2) predictions of a stored ridge read-out (baseline or probe)."""
    scaled = (features - np.asarray(model["scaler_mean"])) / np.asarray(model["scaler_scale"])
    return scaled @ np.asarray(model["coef"]).T + np.asarray(model["intercept"])


def fit_embedding_probe(audio_embeddings: SpectrogramSet, emotion_labels: pd.DataFrame, song_splits: dict[str, Any],
                        params: dict[str, Any]) -> dict[str, Any]:
    """A ridge probe on the frozen encoder's song embeddings (mean of real windows), alpha chosen on VAL songs."""
    corpus = Corpus(audio_embeddings, emotion_labels, song_splits)
    train, val = corpus.train, corpus.val
    x_train = song_embeddings(audio_embeddings.values, train.rows, train.valid_frames)
    x_val = song_embeddings(audio_embeddings.values, val.rows, val.valid_frames)
    fitted = fit_ridge_on_val(x_train, train.targets, x_val, val.targets, [float(a) for a in params["alphas"]],
                              "training.probe.alphas")
    encoder = audio_embeddings.extraction
    logger.info("Embedding probe on %s: alpha %g (val mean CCC %.3f) on %d-d song embeddings",
                encoder.get("checkpoint") or "a randomly initialised encoder", fitted["alpha"], fitted["val_ccc_mean"],
                x_train.shape[1])
    return {"model": "embedding_probe", "feature": "audio_embeddings",
            "encoder": {k: encoder.get(k) for k in ("kind", "checkpoint", "sample_rate", "window_seconds", "dim")},
            "n_train_songs": len(train), **{k: v for k, v in fitted.items() if k != "val_ccc_mean"},
            "targets": list(TARGETS)}
