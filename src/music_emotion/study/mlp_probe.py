"""The embedding arms' MLP probe: one hidden ReLU layer on each real window's embedding, weight decay chosen on VAL.

The ridge probe reads a song's mean embedding (MARBLE's protocol); an MLP is not linear, so the probe of the mean is
not the mean of the probes. This one is trained on windows (each labelled with its song's V/A, as the ViT's crops
are) and a song is the mean of its windows' predictions, which is what validation, TEST scoring and a served model
compute (`models.probe_readout.probe_song_predictions`), so the weight decay is chosen on the number that is
reported. Fitted with scikit-learn's `MLPRegressor` (Adam, seeded), stored as plain numbers."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from music_emotion.config import from_section
from music_emotion.data import TARGETS
from music_emotion.data.corpus import Part
from music_emotion.models.probe_readout import probe_song_predictions, real_windows
from music_emotion.study import metrics


@dataclass(frozen=True)
class MLPProbeParams:
    """`training.probe.mlp`: every key is required; the defaults live in conf/base."""

    hidden_size: int
    weight_decays: list[float]
    learning_rate: float
    epochs: int
    batch_size: int

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> MLPProbeParams:
        config = from_section(cls, params, "training.probe.mlp", "conf/base/parameters_training.yml")
        if config.hidden_size < 1 or config.epochs < 1 or config.batch_size < 1 or not config.weight_decays:
            raise ValueError("training.probe.mlp: hidden_size, epochs and batch_size must be >= 1 and "
                             "weight_decays must list at least one value")
        return config


def fit_mlp_on_val(values: np.ndarray, train: Part, val: Part, params: MLPProbeParams, seed: int) -> dict[str, Any]:
    """Standardise on TRAIN windows, one MLP per weight decay, keep the one with the best mean CCC of VAL songs'
    window-averaged predictions; the fitted numbers."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor
    from sklearn.preprocessing import StandardScaler

    windows, owner = real_windows(values, train.rows, train.valid_frames)
    x_train, y_train = np.asarray(windows, dtype=np.float64), train.targets[owner]
    scaler = StandardScaler().fit(x_train)
    val_ccc: dict[str, float] = {}
    best: tuple[float, dict[str, Any]] | None = None
    for decay in params.weight_decays:
        mlp = MLPRegressor(hidden_layer_sizes=(params.hidden_size,), alpha=float(decay),
                           learning_rate_init=params.learning_rate, max_iter=params.epochs,
                           batch_size=min(params.batch_size, len(x_train)), random_state=int(seed))
        with warnings.catch_warnings():  # a budget of epochs, not convergence, ends the fit: as documented in conf
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(scaler.transform(x_train), y_train)
        readout = {"scaler_mean": scaler.mean_.tolist(), "scaler_scale": scaler.scale_.tolist(),
                   "hidden_weight": mlp.coefs_[0].T.tolist(), "hidden_bias": mlp.intercepts_[0].tolist(),
                   "coef": mlp.coefs_[1].T.tolist(), "intercept": mlp.intercepts_[1].tolist()}
        predicted = probe_song_predictions(readout, values, val.rows, val.valid_frames)
        score = float(np.mean([metrics.ccc(val.targets[:, i], predicted[:, i]) for i in range(len(TARGETS))]))
        val_ccc[str(decay)] = score
        if best is None or score > best[0]:
            best = (score, {"alpha": float(decay), **readout})
    return {**best[1], "val_ccc_mean_by_alpha": val_ccc, "val_ccc_mean": best[0]}
