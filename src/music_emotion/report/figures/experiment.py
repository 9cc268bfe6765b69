"""The experiment's figure: every arm's paired difference from the reference arm, with its CI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from music_emotion.data import TARGETS
from music_emotion.data.tables import require_columns, rerun
from music_emotion.report.figure_style import (
    figure_style_of,
    model_colour,
    model_label,
    new_figure,
    order_models,
)


# ----------------------------------------------------------------------------- experiment
def experiment_deltas_figure(comparison: pd.DataFrame, style: Mapping[str, Any], dpi: int,
                             metric: str = "ccc") -> Figure:
    """Each arm minus the reference arm (pooled out-of-fold difference, mean over seeds, with the 95 % paired
    bootstrap CI over songs of that same difference), one row per arm, one panel per target, with the zero line:
    a bar crossing zero = no evidence. A point outside its percentile interval (possible for a skewed bootstrap)
    gets a one-sided bar, never an error."""
    rows = comparison[comparison["metric"] == metric]
    arms = order_models(rows["arm"].unique().tolist(), style)
    figure = new_figure(5.2 * len(TARGETS), 0.9 + 0.55 * max(1, len(arms)), dpi)
    axes = figure.subplots(1, len(TARGETS), squeeze=False, sharey=True)[0]
    for ax, target in zip(axes, TARGETS, strict=True):
        for position, arm in enumerate(arms):
            row = rows[(rows["arm"] == arm) & (rows["target"] == target)].iloc[0]
            colour = model_colour(arm, style)
            point = row["difference"]
            ax.errorbar(point, position, xerr=[[max(0.0, point - row["ci_low"])], [max(0.0, row["ci_high"] - point)]],
                        fmt="o", color=colour, capsize=4, lw=1.6)
            if row.get("n_seeds", 1) > 1:  # the spread over seeds, beside the CI over songs
                ax.plot([row["seed_min"], row["seed_max"]], [position - 0.18] * 2, color=colour, lw=4, alpha=0.35)
            ax.annotate(f"p = {row['p_value']:.2g}, Holm {row['p_holm']:.2g}", (point, position), xytext=(0, 7),
                        textcoords="offset points", ha="center", fontsize=8)
        ax.axvline(0.0, color="black", lw=1, ls="--")
        ax.set_yticks(range(len(arms)), [model_label(a, style) for a in arms])
        ax.set_ylim(-0.7, len(arms) - 0.3)
        ax.set_xlabel(f"{target} {metric.upper()} difference vs {rows['reference'].iloc[0]} (95 % CI)")
        ax.set_title(target)
        ax.grid(axis="x", alpha=0.3)
    figure.suptitle(f"Paired differences over {int(rows['n_units'].max())} folds x seeds (left of 0 = worse; "
                    "pale bar = range over seeds)")
    return figure


def plot_experiment_deltas(
    experiment_comparison: pd.DataFrame, params: Mapping[str, Any], arms: Mapping[str, Any]
) -> Figure:
    """Every arm's paired CCC difference from the reference arm, with its CI and p-value."""
    require_columns(experiment_comparison, ["arm", "target", "metric", "difference", "ci_low", "ci_high",
                                             "p_value", "p_holm"], "experiment_comparison", rerun("experiment"))
    return experiment_deltas_figure(experiment_comparison, figure_style_of(params, arms), dpi=int(params["dpi"]))
