"""Read-outs with their regularisation chosen on VAL songs: the ridge baseline (pooled log-mel statistics) and the
embedding arms' ridge probe (a frozen encoder's song embeddings) are the same fit on different features; the MLP
probe (`study.mlp_probe`) reads windows.

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
from music_emotion.models.audio_encoder import EncoderParams, FrozenAudioEncoder
from music_emotion.models.embedding_probe import EmbeddingProbeRegressor, probe_model_config
from music_emotion.study import metrics
from music_emotion.study.lineage import fingerprint
from music_emotion.study.mlp_probe import MLPProbeParams, fit_mlp_on_val

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


def fit_embedding_probe(audio_embeddings: SpectrogramSet, emotion_labels: pd.DataFrame, song_splits: dict[str, Any],
                        params: dict[str, Any], arm: dict[str, Any], seed: int) -> dict[str, Any]:
    """The arm's probe (`probe: ridge | mlp`) on the frozen encoder's embeddings, fitted on TRAIN songs with its
    regularisation chosen on VAL songs: a ridge on song embeddings (mean of real windows), or an MLP on windows
    (`study.mlp_probe`)."""
    corpus = Corpus(audio_embeddings, emotion_labels, song_splits)
    train, val = corpus.train, corpus.val
    kind = arm["probe"]
    if kind == "mlp":
        mlp = MLPProbeParams.from_params(params["mlp"])
        fitted, hidden = fit_mlp_on_val(audio_embeddings.values, train, val, mlp, seed), mlp.hidden_size
    else:
        x_train = song_embeddings(audio_embeddings.values, train.rows, train.valid_frames)
        x_val = song_embeddings(audio_embeddings.values, val.rows, val.valid_frames)
        fitted = fit_ridge_on_val(x_train, train.targets, x_val, val.targets, [float(a) for a in params["alphas"]],
                                  "training.probe.alphas")
        hidden = None
    encoder = audio_embeddings.extraction
    logger.info("Embedding %s probe on %s: alpha %g (val mean CCC %.3f) on %d-d embeddings", kind,
                encoder.get("checkpoint") or "a randomly initialised encoder", fitted["alpha"], fitted["val_ccc_mean"],
                audio_embeddings.values.shape[-1])
    return {"model": "embedding_probe", "probe": kind, "hidden_size": hidden, "feature": "audio_embeddings",
            "encoder": {k: encoder.get(k) for k in ("kind", "checkpoint", "sample_rate", "window_seconds", "dim")},
            "n_train_songs": len(train), **{k: v for k, v in fitted.items() if k != "val_ccc_mean"},
            "targets": list(TARGETS)}


def build_probe_model(baseline_model: dict[str, Any], audio_embeddings: SpectrogramSet, embeddings: dict[str, Any],
                      seed: int) -> EmbeddingProbeRegressor:
    """The fitted probe + the encoder that made `audio_embeddings`, as one servable model (`<arm>.trained_model`):
    what `music-emotion predict/export/app` and the inference pipeline use. A hub encoder is named (checkpoint and
    the revision recorded with the embeddings), not copied; a random one is rebuilt from `embeddings` and `seed`
    and must be the one whose hash the embeddings record."""
    described = audio_embeddings.extraction
    if baseline_model["encoder"]["checkpoint"] != described["checkpoint"] or \
            int(baseline_model["encoder"]["dim"]) != int(described["dim"]):
        raise ValueError("the probe was fitted on other embeddings than the newest audio_embeddings (an interrupted "
                         "run?): re-run `kedro run --pipelines training`")
    params = EncoderParams.from_params(embeddings)
    config = probe_model_config(baseline_model, described, str(audio_embeddings.values.dtype),
                                params.batch_size)
    config["probe"]["fitted_from"] = fingerprint(baseline_model)  # the archive checks the pair belongs together
    model = EmbeddingProbeRegressor(config)
    if described["checkpoint"] is None:
        encoder = FrozenAudioEncoder(params, seed)
        if encoder.describe()["weights"] != described["weights"]:
            raise ValueError("data_processing.embeddings (or seed) now builds another random encoder than the one "
                             "that made audio_embeddings: re-run `kedro run --pipelines data_processing` first")
        model.encoder.load_state_dict(encoder.model.state_dict())
    model.set_readout(baseline_model)
    return model.eval()
