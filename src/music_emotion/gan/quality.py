"""Quality figures for synthetic spectrograms, all on one fixed feature: `pooled_mel_statistics`
(per-mel-band mean and standard deviation of the dB spectrogram over time, 2 x n_mels values).

- Fréchet distance (the FID formula, on this feature instead of Inception activations).
- Conditioning fidelity: ridge regressors between feature space and (valence, arousal), trained
  on one side (real or synthetic) and scored with CCC on the other.
- Mode-collapse guard: mean pairwise feature distance among synthetic vs among real samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from music_emotion.data import TARGETS
from music_emotion.data.windows import average_by_song
from music_emotion.study.metrics import ccc


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray, ridge: float = 1e-6) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2) between Gaussians fitted to two feature sets.

    `ridge` * I is added to both covariances (scaled by their mean variance) so that rank-deficient
    estimates (fewer samples than dimensions) still have a well-defined square root.
    """
    if len(features_a) < 2 or len(features_b) < 2:
        raise ValueError("the Fréchet distance needs at least 2 samples on each side")
    mu_a, mu_b = features_a.mean(axis=0), features_b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(features_a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(features_b, rowvar=False))
    scale = max(float(np.trace(cov_a) + np.trace(cov_b)) / (2 * cov_a.shape[0]), 1e-12)
    eye = np.eye(cov_a.shape[0]) * ridge * scale
    cov_a, cov_b = cov_a + eye, cov_b + eye
    covmean = linalg.sqrtm(cov_a @ cov_b)
    covmean = np.real(covmean)
    distance = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(covmean))
    return max(distance, 0.0)


def mean_pairwise_distance(features: np.ndarray, max_samples: int, rng: np.random.Generator) -> float:
    """Mean Euclidean distance over all pairs of (at most `max_samples`, randomly chosen) samples."""
    if len(features) < 2:
        return float("nan")
    if len(features) > max_samples:
        features = features[rng.choice(len(features), size=max_samples, replace=False)]
    squared = np.sum(features**2, axis=1)
    d2 = np.maximum(squared[:, None] + squared[None, :] - 2 * features @ features.T, 0.0)
    upper = np.triu_indices(len(features), k=1)
    return float(np.sqrt(d2[upper]).mean())


def fit_ridge(train_x: np.ndarray, train_y: np.ndarray, alpha: float):
    """Standardise + ridge regression, fitted: the regressor behind every conditioning-fidelity figure."""
    return make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(train_x, train_y)


@dataclass(frozen=True)
class SongWindows:
    """Pooled features of every window of some real songs, which song each window is of, the songs' targets."""

    features: np.ndarray
    positions: np.ndarray
    targets: np.ndarray
    split: str

    def song_ccc(self, model) -> dict[str, float]:
        """CCC per target of `model`'s window predictions averaged per song."""
        songs = average_by_song(model.predict(self.features), self.positions, len(self.targets))
        return {t: ccc(self.targets[:, i], songs[:, i]) for i, t in enumerate(TARGETS)}


def frechet_report(real_train: np.ndarray, real_val: np.ndarray | None, synthetic: np.ndarray, ridge: float,
                   rng: np.random.Generator) -> dict[str, Any]:
    """Fréchet distances of the synthetic windows to real TRAIN ones, beside the real-VAL floor (as many
    synthetic windows as VAL ones, so both sides of the ratio have the same sample size)."""
    matched_n = len(real_val) if real_val is not None else len(synthetic)
    matched = synthetic[rng.choice(len(synthetic), size=min(matched_n, len(synthetic)), replace=False)]
    fd_matched = frechet_distance(real_train, matched, ridge) if len(matched) >= 2 else None
    fd_floor = frechet_distance(real_train, real_val, ridge) if real_val is not None else None
    return {
        "real_train_vs_synthetic": frechet_distance(real_train, synthetic, ridge),
        "real_train_vs_synthetic_subsample_n_val": fd_matched,
        "real_train_vs_real_val_floor": fd_floor,
        "ratio_to_floor": (fd_matched / fd_floor) if fd_floor and fd_matched is not None else None,
        "covariance_ridge": ridge,
    }


def fidelity_report(real_train: np.ndarray, y_train: np.ndarray, synthetic: np.ndarray, y_synthetic: np.ndarray,
                    held_out: SongWindows, alpha: float) -> dict[str, Any]:
    """Do samples carry their labels? A ridge fitted on real windows scores synthetic ones (TRTS), one fitted on
    synthetic windows scores held-out real songs (TSTR), beside the real-on-real reference."""
    real_model = fit_ridge(real_train, y_train, alpha)
    synthetic_model = fit_ridge(synthetic, y_synthetic, alpha)
    trts_pred = real_model.predict(synthetic)
    return {
        "train_real_test_synthetic": {t: ccc(y_synthetic[:, i], trts_pred[:, i]) for i, t in enumerate(TARGETS)},
        "train_synthetic_test_real": held_out.song_ccc(synthetic_model),
        "train_real_test_real_reference": held_out.song_ccc(real_model),
        "real_test_split": held_out.split,
        "ridge_alpha": alpha,
    }


def collapse_report(synthetic: np.ndarray, real_train: np.ndarray, max_pairs: int, threshold: float,
                    rng: np.random.Generator) -> dict[str, Any]:
    """The mode-collapse guard: synthetic windows much closer to each other than real ones are."""
    pair_synthetic = mean_pairwise_distance(synthetic, max_pairs, rng)
    pair_real = mean_pairwise_distance(real_train, max_pairs, rng)
    ratio = pair_synthetic / pair_real if pair_real > 0 else None
    return {
        "mean_pairwise_distance_synthetic": pair_synthetic,
        "mean_pairwise_distance_real_train": pair_real,
        "ratio": ratio,
        "threshold": threshold,
        "possible_mode_collapse": bool(ratio is not None and ratio < threshold),
        "max_samples": max_pairs,
    }


def level_report(real_train: np.ndarray, synthetic: np.ndarray, n_mels: int) -> dict[str, float]:
    """Mean dB level and mean band spread of both sides: a GAN that drifts louder or flatter shows here first."""
    return {
        "real_train_mean": float(real_train[:, :n_mels].mean()),
        "synthetic_mean": float(synthetic[:, :n_mels].mean()),
        "real_train_mean_band_std": float(real_train[:, n_mels:].mean()),
        "synthetic_mean_band_std": float(synthetic[:, n_mels:].mean()),
    }
