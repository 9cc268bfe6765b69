"""Regression metrics for valence/arousal, each computed once over a whole set, with bootstrap CIs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from music_emotion.data import TARGETS


def ccc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Lin's concordance correlation coefficient (biased variances, so ccc(y, y) == 1)."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    mean_t, mean_p = y_true.mean(), y_pred.mean()
    var_t, var_p = y_true.var(), y_pred.var()
    cov = np.mean((y_true - mean_t) * (y_pred - mean_p))
    denom = var_t + var_p + (mean_t - mean_p) ** 2
    return float(2 * cov / denom) if denom > 0 else 0.0


def pearson(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Pearson r; 0 when either side is constant (e.g. the mean baseline)."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    st, sp = y_true.std(), y_pred.std()
    if st == 0 or sp == 0:
        return 0.0
    return float(np.mean((y_true - y_true.mean()) * (y_pred - y_pred.mean())) / (st * sp))


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    ss_tot = np.sum((y_true - y_true.mean()) ** 2)
    ss_res = np.sum((y_true - y_pred) ** 2)
    return float(1 - ss_res / ss_tot) if ss_tot > 0 else 0.0


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2)))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(y_true) - np.asarray(y_pred))))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "ccc": ccc,
    "pearson": pearson,
    "r2": r2,
    "rmse": rmse,
    "mae": mae,
}


def bootstrap_ci(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float],
    n_resamples: int,
    confidence: float,
    seed: int,
) -> tuple[float, float]:
    """Percentile CI of `metric` over songs resampled with replacement (seeded)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    rng = np.random.default_rng(seed)
    n = len(y_true)
    draws = rng.integers(0, n, size=(n_resamples, n))
    stats = np.array([metric(y_true[d], y_pred[d]) for d in draws])
    alpha = (1 - confidence) / 2
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def regression_report(
    y_true: np.ndarray, y_pred: np.ndarray, n_resamples: int, seed: int, confidence: float = 0.95
) -> dict[str, dict[str, dict[str, float]]]:
    """{target: {metric: {value, ci_low, ci_high}}} for (n, 2) arrays ordered (valence, arousal)."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1, len(TARGETS))
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1, len(TARGETS))
    report: dict[str, dict[str, dict[str, float]]] = {}
    for t, target in enumerate(TARGETS):
        report[target] = {}
        for name, fn in METRICS.items():
            low, high = bootstrap_ci(y_true[:, t], y_pred[:, t], fn, n_resamples, confidence, seed)
            report[target][name] = {"value": fn(y_true[:, t], y_pred[:, t]), "ci_low": low, "ci_high": high}
    return report


def flatten_numeric(tree: Any, prefix: str = "") -> list[tuple[str, Any, Any, Any]]:
    """(dotted key, value, ci_low, ci_high) for every scalar leaf of a nested dict.

    A dict with a "value" key (as in `metrics.regression_report`) is one leaf with its interval;
    lists are skipped. Whatever figures `gan_quality` grows later appear without code changes.
    """
    rows: list[tuple[str, Any, Any, Any]] = []
    if isinstance(tree, Mapping):
        if "value" in tree and not isinstance(tree["value"], Mapping):
            return [(prefix, tree["value"], tree.get("ci_low"), tree.get("ci_high"))]
        for key, child in tree.items():
            rows.extend(flatten_numeric(child, f"{prefix}.{key}" if prefix else str(key)))
        return rows
    if tree is None or isinstance(tree, bool | int | float | str | np.generic):
        return [(prefix, tree.item() if isinstance(tree, np.generic) else tree, None, None)]
    return rows
