"""`experiment` aggregation: every (seed, fold, arm) record into predictions, metrics and the paired comparison.

Everything fitted inside a fold (the GAN, normalisation statistics, ridge, every ViT) is fitted by the
`training` / `gan_augmentation` node functions themselves on that fold's `song_splits`, and scored and recorded
by `resume.evaluate_arm`; this node only collects the records and compares arms.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from music_emotion.data import TARGETS
from music_emotion.pipelines.experiment.comparison import compare_arms
from music_emotion.study import metrics
from music_emotion.study.unit_records import UnitRecord

logger = logging.getLogger(__name__)



def aggregate_experiment(params: dict[str, Any], **records: UnitRecord) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(experiment_predictions, experiment_metrics, experiment_comparison) from every (seed, fold, arm) record,
    in a fixed order (seed, fold, arm), so a resumed run aggregates exactly as an uninterrupted one.

    Metrics per fold x seed x arm and, per seed, pooled over all out-of-fold predictions (`fold` = pooled:
    the number comparable to published DEAM k-fold results). The comparison: every arm minus the reference
    arm, per target and metric, with a paired bootstrap CI over songs and the corrected resampled t-test.
    """
    ordered = [records[k] for k in sorted(records)]
    predictions = pd.concat([r.predictions for r in ordered], ignore_index=True)
    facts = pd.DataFrame([r.facts for r in ordered])
    _check_complete(predictions, params)
    metric_rows = []
    for (seed, fold, arm), group in predictions.groupby(["seed", "fold", "arm"], sort=True):
        metric_rows += _metric_rows(group, seed, fold, arm)
    for (seed, arm), group in predictions.groupby(["seed", "arm"], sort=True):
        metric_rows += _metric_rows(group, seed, "pooled", arm)
    per_unit = pd.DataFrame(metric_rows)
    table = per_unit.merge(facts, on=["arm", "fold", "seed"], how="left")
    return predictions, table, compare_arms(predictions, per_unit, facts, params)


def _metric_rows(group: pd.DataFrame, seed: int, fold: Any, arm: str) -> list[dict[str, Any]]:
    rows = []
    for target in TARGETS:
        y_true, y_pred = group[f"{target}_true"].to_numpy(), group[f"{target}_pred"].to_numpy()
        for name, fn in metrics.METRICS.items():
            rows.append({"seed": seed, "fold": fold, "arm": arm, "target": target, "metric": name,
                         "value": fn(y_true, y_pred), "n_songs": len(group)})
    return rows


def _check_complete(predictions: pd.DataFrame, params: dict[str, Any]) -> None:
    """Every arm has a finite prediction for every song of every seed: a failed fold is an error, never a gap."""
    counts = predictions.groupby(["seed", "arm"])["song_id"].nunique()
    expected = predictions.groupby("seed")["song_id"].nunique()
    short = [f"arm {arm}, seed {seed}: {n} of {expected[seed]} songs" for (seed, arm), n in counts.items()
             if n != expected[seed]]
    bad = predictions[~np.isfinite(predictions[[f"{t}_pred" for t in TARGETS]]).all(axis=1)]
    if short or not bad.empty:
        raise ValueError("the experiment has missing or non-finite predictions, so averages would silently drop "
                         f"folds: {short[:5]} {len(bad)} non-finite row(s) (first folds: {sorted(set(bad.fold))[:5]})")
    if params["reference_arm"] not in set(predictions["arm"]):
        raise ValueError(f"experiment.reference_arm {params['reference_arm']!r} is not among the experiment's arms "
                         f"{sorted(set(predictions['arm']))}")


