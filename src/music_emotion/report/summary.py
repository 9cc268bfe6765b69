"""`metrics_summary`: every number of the run in one tidy CSV and one markdown report."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from music_emotion.data import TARGETS
from music_emotion.data.splits import SPLITS
from music_emotion.gan.reader import generator_verdict
from music_emotion.report import figure_style
from music_emotion.report.tables import format_number, format_with_ci, markdown_table
from music_emotion.study.arms import GENERATED, generator_of
from music_emotion.study.metrics import flatten_numeric

logger = logging.getLogger(__name__)


GENERATOR_TITLES = {"gan": "GAN", "diffusion": "Diffusion"}
METRIC_LABELS = {"ccc": "CCC", "pearson": "r", "r2": "R²", "rmse": "RMSE", "mae": "MAE"}


SUMMARY_COLUMNS = ["section", "name", "target", "metric", "value", "ci_low", "ci_high", "n_songs"]


def _metric_rows(test_metrics: Mapping[str, Any], model_order: Sequence[str]) -> list[dict[str, Any]]:
    if not isinstance(test_metrics, Mapping) or not test_metrics:
        raise ValueError("'test_metrics' is empty or not a dict of models; re-run training")
    rows = []
    for model in figure_style.order_models(list(test_metrics), {"model_order": model_order}):
        report = test_metrics[model]
        for target in TARGETS:
            if target not in report:
                raise ValueError(f"'test_metrics[{model!r}]' has no '{target}' block; re-run training")
            for metric in METRIC_LABELS:
                entry = report[target].get(metric)
                if entry is None:
                    raise ValueError(
                        f"'test_metrics[{model!r}][{target!r}]' lacks metric '{metric}'; re-run training"
                    )
                rows.append({
                    "section": "test_metrics", "name": model, "target": target, "metric": metric,
                    "value": entry["value"], "ci_low": entry.get("ci_low"), "ci_high": entry.get("ci_high"),
                    "n_songs": report.get("n_songs"),
                })
    return rows


def _dataset_rows(song_splits: Mapping[str, Any], synthetic_labels: pd.DataFrame) -> list[dict[str, Any]]:
    counts = {split: len(song_splits.get(split, [])) for split in SPLITS}
    n_synthetic = len(synthetic_labels)
    expansion = (counts["train"] + n_synthetic) / counts["train"] if counts["train"] else float("nan")
    figures_ = [
        ("real songs: train", counts["train"]),
        ("real songs: val", counts["val"]),
        ("real songs: test", counts["test"]),
        ("real songs: total", sum(counts.values())),
        ("synthetic spectrograms (train only)", n_synthetic),
        ("augmented train set", counts["train"] + n_synthetic),
        ("train expansion factor", expansion),
    ]
    return [
        {"section": "dataset", "name": name, "target": None, "metric": "count" if "factor" not in name else "ratio",
         "value": value, "ci_low": None, "ci_high": None, "n_songs": None}
        for name, value in figures_
    ]


def _generator_check(qualities: Mapping[str, Mapping[str, Any]], arms: Mapping[str, Any]) -> list[str]:
    """Markdown lines: per generator that arms train on, whether its samples carry their labels."""
    lines = []
    for generator, quality in qualities.items():
        trained_on = [name for name, spec in arms.items()
                      if generator_of(name, (spec or {}).get("synthetic")) == generator]
        if trained_on and (reading := quality.get("independent_reader")):
            lines.append(f"{', '.join(trained_on)}: {generator_verdict(reading)}.")
    return ["## Generator check", "", *lines, ""] if lines else []


def _quality_section(generator: str, rows: list[dict[str, Any]], labels: Mapping[str, str],
                     decimals: int) -> list[str]:
    title = GENERATOR_TITLES.get(generator, generator)
    return [
        f"## {title} quality",
        "",
        f"Figures from `{GENERATED[generator].quality}` (features: pooled mel statistics, and the independent "
        "reader's; see the gan_augmentation docs).",
        "",
        markdown_table(
            ["figure", "value"],
            [[labels.get(r["name"], r["name"]),
              r["value"] if isinstance(r["value"], str)
              else format_with_ci(r["value"], r["ci_low"], r["ci_high"], decimals)]
             for r in rows] or [[f"({GENERATED[generator].quality} holds no scalar figures)", "n/a"]],
        ),
        "",
    ]


def summarise_metrics(
    test_metrics: Mapping[str, Any],
    song_splits: Mapping[str, Any],
    synthetic_labels: pd.DataFrame,
    params: Mapping[str, Any],
    arms: Mapping[str, Any],
    **qualities: Mapping[str, Any],
) -> tuple[pd.DataFrame, str]:
    """One tidy table (CSV) and one markdown report of every number the run produced.

    Test metrics per model and target with 95 % bootstrap intervals, every scalar of each generator's quality
    report (`qualities`: generator family -> report, e.g. gan=gan_quality), and the dataset counts. The markdown
    puts the test metrics in one row per model and target.
    """
    decimals = int(params["decimals"])
    model_order = list(arms)
    quality_labels = params["gan_quality_labels"]
    metric_rows = _metric_rows(test_metrics, model_order)
    quality_rows = {
        generator: [{"section": GENERATED[generator].quality, "name": key, "target": None, "metric": None,
                     "value": value, "ci_low": low, "ci_high": high, "n_songs": None}
                    for key, value, low, high in flatten_numeric(quality)]
        for generator, quality in qualities.items()
    }
    dataset_rows = _dataset_rows(song_splits, synthetic_labels)
    table = pd.DataFrame(metric_rows + [r for rows in quality_rows.values() for r in rows] + dataset_rows,
                         columns=SUMMARY_COLUMNS)
    # Mixed leaves (numbers, flags, short strings) stay readable in one CSV column.
    table["value"] = table["value"].astype(object)

    metrics_table = []
    for (model, target), group in pd.DataFrame(metric_rows).groupby(["name", "target"], sort=False):
        by_metric = group.set_index("metric")
        metrics_table.append(
            [model, target, format_number(group["n_songs"].iloc[0], decimals)]
            + [format_with_ci(by_metric.loc[m, "value"], by_metric.loc[m, "ci_low"], by_metric.loc[m, "ci_high"],
                              decimals, small_as_scientific=False) for m in METRIC_LABELS]
        )
    lines = [
        "# Results",
        "",
        "## Test-set metrics",
        "",
        "Each cell: value on the test songs [95 % bootstrap confidence interval, songs resampled]. "
        "CCC = Lin's concordance correlation, r = Pearson correlation, R² = coefficient of determination, "
        "RMSE / MAE on the [-1, 1] valence/arousal scale.",
        "",
        markdown_table(["model", "target", "n songs", *METRIC_LABELS.values()], metrics_table),
        "",
        *_generator_check(qualities, arms),
        *(line for generator, rows in quality_rows.items()
          for line in _quality_section(generator, rows, quality_labels, decimals)),
        "## Dataset",
        "",
        markdown_table(["count", "value"], [[r["name"], format_number(r["value"], decimals)] for r in dataset_rows]),
        "",
    ]
    logger.info("Metrics summary: %d models, %s", len(metrics_table) // len(TARGETS),
                ", ".join(f"{len(rows)} {generator} figures" for generator, rows in quality_rows.items()))
    return table, "\n".join(lines)
