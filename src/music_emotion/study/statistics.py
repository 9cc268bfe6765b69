"""Paired comparisons of two arms evaluated on the same songs, folds and seeds.

- `paired_bootstrap_ci`: resample songs with replacement (the same draw for both arms), recompute the
  metric on each seed's out-of-fold predictions for both arms, and take the percentile interval of the
  difference (averaged over seeds). Songs, not folds, are the unit of resampling: what varies between
  listeners' collections is which songs are in them.
- `corrected_resampled_t_test`: Nadeau & Bengio (2003), "Inference for the Generalization Error": the
  per-unit (fold x seed) differences are not independent (training sets overlap), so the variance of
  their mean is inflated by n_test / n_train; Bouckaert & Frank (2004) recommend it for repeated k-fold.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats


def corrected_resampled_t_test(differences: np.ndarray, test_train_ratio: float) -> tuple[float, float]:
    """(t, two-sided p) for the mean of per-unit differences; p = 1 when every difference is 0."""
    d = np.asarray(differences, dtype=np.float64)
    n = len(d)
    if n < 2:
        return float("nan"), float("nan")
    variance = d.var(ddof=1)
    if variance == 0:
        return (0.0, 1.0) if d.mean() == 0 else (float(np.sign(d.mean()) * np.inf), 0.0)
    t = d.mean() / np.sqrt((1.0 / n + test_train_ratio) * variance)
    return float(t), float(2 * stats.t.sf(abs(t), df=n - 1))


def paired_bootstrap_ci(
    y_true: list[np.ndarray],
    y_arm: list[np.ndarray],
    y_reference: list[np.ndarray],
    metric: Callable[[np.ndarray, np.ndarray], float],
    n_resamples: int,
    confidence: float,
    seed: int,
) -> tuple[float, float]:
    """Percentile CI of mean over seeds of metric(arm) - metric(reference); one list entry per seed, each the
    out-of-fold predictions of every song (songs in the same order for both arms)."""
    rng = np.random.default_rng(seed)
    n_songs = len(y_true[0])
    draws = rng.integers(0, n_songs, size=(n_resamples, n_songs))
    deltas = np.empty(n_resamples)
    for b, draw in enumerate(draws):
        deltas[b] = np.mean([metric(t[draw], a[draw]) - metric(t[draw], r[draw])
                             for t, a, r in zip(y_true, y_arm, y_reference, strict=True)])
    alpha = (1 - confidence) / 2
    return float(np.quantile(deltas, alpha)), float(np.quantile(deltas, 1 - alpha))


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment (1979) of a family of p-values: controls the chance of any false claim in the
    family at the nominal level, without Bonferroni's loss of power. Same order as given; capped at 1."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    steps = (len(p) - np.arange(len(p))) * p[order]
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(steps), 1.0)
    return adjusted
