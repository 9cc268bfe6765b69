"""What a saved catalog output becomes in MLflow: metric curves, final metrics, child runs, artefact files.

Pure functions of the data the pipelines already write; `tracking.py` calls them when a dataset is saved, so
no node knows MLflow exists and the versioned catalog stays the source of truth (MLflow holds copies and
references). Which dataset is which kind is configured in `conf/base/parameters_tracking.yml`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import numpy as np
import pandas as pd

from music_emotion.study.metrics import flatten_numeric

_UNSAFE = re.compile(r"[^\w.\-/ ]")


def metric_key(*parts: str) -> str:
    """An MLflow-safe metric name (letters, digits, `_ - . / space`) joined with dots."""
    return _UNSAFE.sub("_", ".".join(p for p in parts if p))


def matching(name: str, patterns: Mapping[str, Any] | list[str]) -> str | None:
    """The first pattern (`gan_history`, `*.training_history`) that `name` matches, else None."""
    return next((p for p in patterns if fnmatchcase(name, p)), None)


def namespace_of(name: str, pattern: str) -> str:
    """`real_only` for `real_only.training_history` under `*.training_history`; the name itself without a wildcard."""
    if "*" not in pattern:
        return name
    suffix = pattern.split("*", 1)[1]
    return name[: -len(suffix)] if suffix and name.endswith(suffix) else name


def history_metrics(table: pd.DataFrame, step_column: str, prefix: str) -> list[tuple[str, float, int]]:
    """(key, value, step) for every finite numeric cell of a per-step history (one point per row)."""
    if step_column not in table:
        raise KeyError(f"history has no step column '{step_column}' (columns: {list(table.columns)})")
    numeric = table.select_dtypes(include=[np.number, bool]).drop(columns=[step_column], errors="ignore")
    points = []
    for step, row in zip(table[step_column].astype(int), numeric.itertuples(index=False), strict=True):
        for column, value in zip(numeric.columns, row, strict=True):
            if value is not None and np.isfinite(float(value)):
                points.append((metric_key(prefix, column), float(value), int(step)))
    return points


def report_metrics(report: Mapping[str, Any], prefix: str) -> dict[str, float]:
    """Every numeric leaf of a nested report, with `_ci_low`/`_ci_high` beside values that carry an interval."""
    metrics = {}
    for key, value, low, high in flatten_numeric(report):
        for suffix, number in (("", value), ("_ci_low", low), ("_ci_high", high)):
            if isinstance(number, int | float) and not isinstance(number, bool) and np.isfinite(number):
                metrics[metric_key(prefix, key) + suffix] = float(number)
    return metrics


@dataclass(frozen=True)
class ChildRun:
    """One nested run of the experiment: a seed x fold x arm with its metrics."""

    name: str
    params: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)


def experiment_children(experiment_metrics: pd.DataFrame) -> list[ChildRun]:
    """One child per (seed, fold, arm) of the long `experiment_metrics` table (fold `pooled` included):
    `<target>.<metric>` values plus the unit's numeric facts (epochs, steps, seconds, songs, GAN step...)."""
    keys = ["seed", "fold", "arm"]
    facts = [c for c in experiment_metrics.columns if c not in {*keys, "target", "metric", "value"}]
    children = []
    for (seed, fold, arm), rows in experiment_metrics.groupby(keys, sort=True):
        metrics = {metric_key(str(r.target), str(r.metric)): float(r.value)
                   for r in rows.itertuples(index=False) if np.isfinite(float(r.value))}
        first = rows.iloc[0]
        for column in facts:
            value = pd.to_numeric(first[column], errors="coerce")
            if pd.notna(value):
                metrics[metric_key(column)] = float(value)
        children.append(ChildRun(f"seed{seed} fold{fold} {arm}", {"seed": str(seed), "fold": str(fold),
                                                                   "arm": str(arm)}, metrics))
    return children
