"""Metrics: known values, edge cases, bootstrap intervals."""

import numpy as np
import pytest

from music_emotion.study.metrics import bootstrap_ci, ccc, mae, pearson, r2, regression_report, rmse


def test_ccc_of_identical_vectors_is_one_and_penalises_bias():
    y = np.array([0.1, -0.5, 0.3, 0.9])
    assert ccc(y, y) == pytest.approx(1.0)
    assert pearson(y, y + 0.5) == pytest.approx(1.0)
    assert ccc(y, y + 0.5) < 0.8


def test_ccc_matches_the_formula_with_biased_variance():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.5, 1.5, 3.5, 3.0])
    cov = np.mean((y - y.mean()) * (p - p.mean()))
    expected = 2 * cov / (y.var() + p.var() + (y.mean() - p.mean()) ** 2)
    assert ccc(y, p) == pytest.approx(expected)


def test_constant_predictions():
    y = np.array([0.0, 1.0, 2.0])
    p = np.full(3, y.mean())
    assert pearson(y, p) == 0.0
    assert ccc(y, p) == 0.0
    assert r2(y, p) == pytest.approx(0.0)
    assert rmse(y, p) == pytest.approx(np.sqrt(2 / 3))
    assert mae(y, p) == pytest.approx(2 / 3)


def test_bootstrap_ci_brackets_the_estimate_and_is_seeded():
    rng = np.random.default_rng(0)
    y = rng.normal(size=200)
    p = y + rng.normal(scale=0.5, size=200)
    low, high = bootstrap_ci(y, p, ccc, n_resamples=300, confidence=0.95, seed=1)
    assert low < ccc(y, p) < high
    assert (low, high) == bootstrap_ci(y, p, ccc, n_resamples=300, confidence=0.95, seed=1)


def test_regression_report_structure():
    y = np.random.default_rng(0).uniform(-1, 1, size=(50, 2))
    report = regression_report(y, y, n_resamples=50, seed=0)
    assert set(report) == {"valence", "arousal"}
    assert set(report["valence"]) == {"ccc", "pearson", "r2", "rmse", "mae"}
    assert report["arousal"]["ccc"]["value"] == pytest.approx(1.0)
    assert report["arousal"]["rmse"]["value"] == pytest.approx(0.0)
