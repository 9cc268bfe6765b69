"""Quality figures for synthetic spectrograms, all on one fixed feature: `pooled_mel_statistics`
(per-mel-band mean and standard deviation of the dB spectrogram over time, 2 x n_mels values).

- Fréchet distance (the FID formula, on this feature instead of Inception activations).
- Conditioning fidelity: ridge regressors between feature space and (valence, arousal), trained
  on one side (real or synthetic) and scored with CCC on the other.
- Mode-collapse guard: mean pairwise feature distance among synthetic vs among real samples.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


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
