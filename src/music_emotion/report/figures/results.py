"""Matplotlib drawing for the reporting pipeline: data in, `Figure` out, nothing shown or saved.

Figures are built with the object-oriented API on an explicit Agg canvas (`new_figure`), never
through pyplot's global state: no window can open, no figure leaks between nodes, and importing
this module does not switch the backend of a notebook that imports it. Saving is the catalog's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from music_emotion.data import TARGETS
from music_emotion.report.figure_style import (
    model_colour,
    model_label,
    new_figure,
    order_models,
    panel_grid,
    point_style,
    va_plane_axes,
)
from music_emotion.study.metrics import ccc

# ----------------------------------------------------------------------------- generators
# Per generator family, its panels: (title, y label, ((history column, curve label), ...)). A panel whose columns
# the history lacks (e.g. no auxiliary head in the Kaggle reference GAN) is left out.
GENERATOR_PANELS = {
    "gan": (
        ("Adversarial losses", "loss per step (mean since the last evaluation)",
         (("generator_loss", "generator (adversarial + auxiliary)"), ("discriminator_loss", "discriminator"))),
        ("Auxiliary V/A regression on D", "MSE of D's V/A reading",
         (("aux_mse_real", "real windows vs their labels"),
          ("aux_mse_fake", "generated windows vs their conditions"))),
        ("Conditioning: do samples carry their V/A?", "CCC, conditions vs V/A read back",
         (("conditioning_ccc_valence", "valence"), ("conditioning_ccc_arousal", "arousal"))),
        ("Realism", "Fréchet ratio (1 = as close as real windows)",
         (("frechet_ratio", "synthetic vs real TRAIN windows"),)),
    ),
    "diffusion": (
        ("Flow-matching loss", "velocity MSE per step (mean since the last log)", (("flow_loss", "training loss"),)),
        ("Learning rate", "learning rate", (("learning_rate", "AdamW: warm-up, then cosine"),)),
    ),
}
GENERATOR_TITLES = {"gan": "conditional GAN", "diffusion": "conditional flow matching"}


def generator_training_curves_figure(histories: Mapping[str, pd.DataFrame], dpi: int) -> Figure:
    """One row per generator family: its losses per evaluation step (the GAN's also its auxiliary MSEs,
    conditioning CCC and Fréchet ratio, the kept step starred), so both generators' training reads in one place."""
    rows = {generator: [p for p in GENERATOR_PANELS[generator] if any(c in history for c, _ in p[2])]
            for generator, history in histories.items()}
    n_cols = max(len(panels) for panels in rows.values())
    figure = new_figure(5.0 * n_cols, 4.2 * len(rows), dpi)
    grid = figure.subplots(len(rows), n_cols, squeeze=False)
    lengths = []
    for axes, (generator, panels) in zip(grid, rows.items(), strict=True):
        history = histories[generator]
        x = history["step"] if "step" in history else history["epoch"]
        lengths.append(f"{GENERATOR_TITLES[generator]} {int(x.iloc[-1])} {x.name}s")
        kept = history[history["is_best"].astype(bool)] if "is_best" in history else history.iloc[:0]
        step = f", kept step {int(kept[x.name].iloc[0])} (star)" if not kept.empty else ""
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        for ax, (title, ylabel, curves) in zip(axes, panels, strict=False):
            for column, label in curves:
                if column in history:
                    line, = ax.plot(x, history[column], marker="o", ms=3, label=label)
                    if not kept.empty:
                        ax.plot(kept[x.name], kept[column], ls="none", marker="*", ms=12, color=line.get_color(),
                                markeredgecolor="black", markeredgewidth=0.5)
            ax.set_title(f"{GENERATOR_TITLES[generator]}: {title}{step if ax is axes[0] else ''}", fontsize=10)
            ax.set_xlabel("optimiser step" if x.name == "step" else "epoch")
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    figure.suptitle("Generator training: " + ", ".join(lengths))
    return figure


# ----------------------------------------------------------------------------------- ViT
TRAINING_PANELS = (
    ("MSE loss: train crops vs val songs", "train_loss", "val_loss", "mean squared error"),
    ("val MAE valence (per song)", None, "val_mae_valence", "mean absolute error"),
    ("val MAE arousal (per song)", None, "val_mae_arousal", "mean absolute error"),
    ("val CCC, mean of V and A (selects the epoch)", None, "val_ccc_mean", "CCC"),
    ("val CCC valence (per song)", None, "val_ccc_valence", "CCC"),
    ("val CCC arousal (per song)", None, "val_ccc_arousal", "CCC"),
)


def training_curves_figure(histories: Mapping[str, pd.DataFrame], style: Mapping[str, Any], dpi: int) -> Figure:
    """Loss, MAE and CCC per epoch for every trained model: colour = model, solid = train, dashed = val.

    The checkpoint kept (`is_best`) is starred on the validation curves.
    """
    figure = new_figure(16.0, 8.0, dpi)
    axes = figure.subplots(2, 3).ravel()
    for ax, (title, train_column, val_column, ylabel) in zip(axes, TRAINING_PANELS, strict=True):
        for model, history in histories.items():
            colour = model_colour(model, style)
            epochs = history["epoch"]
            if train_column and train_column in history:
                ax.plot(epochs, history[train_column], color=colour, lw=1.6, ls="-")
            if val_column in history:
                ax.plot(epochs, history[val_column], color=colour, lw=1.6, ls="--")
                if "is_best" in history:
                    best = history[history["is_best"].astype(bool)]
                    ax.plot(best["epoch"], best[val_column], ls="none", marker="*", ms=11, color=colour,
                            markeredgecolor="black", markeredgewidth=0.5)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=model_colour(m, style), lw=2, label=model_label(m, style)) for m in histories]
    handles += [
        Line2D([], [], color="black", ls="-", label="train"),
        Line2D([], [], color="black", ls="--", label="validation"),
        Line2D([], [], color="black", ls="none", marker="*", ms=10, label="kept checkpoint"),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncol=len(handles))
    figure.suptitle("ViT / AST training per epoch: train loss on random crops, "
                    "validation per song (mean of its windows)")
    return figure


# ----------------------------------------------------------------------------- predictions
def prediction_scatter_figure(predictions: pd.DataFrame, style: Mapping[str, Any], dpi: int) -> Figure:
    """Predicted vs true on the test set: one column per model, one row per target, identity line."""
    models = order_models(predictions["model"].unique().tolist(), style)
    figure = new_figure(3.6 * len(models) + 0.5, 7.4, dpi)
    axes = figure.subplots(len(TARGETS), len(models), squeeze=False)
    for col, model in enumerate(models):
        rows = predictions[predictions["model"] == model]
        for row, target in enumerate(TARGETS):
            ax = axes[row, col]
            y_true, y_pred = rows[f"{target}_true"].to_numpy(), rows[f"{target}_pred"].to_numpy()
            ax.plot([-1, 1], [-1, 1], color="#999999", lw=1, ls=":", label="perfect prediction")
            size, alpha = point_style(len(rows))
            ax.scatter(y_true, y_pred, s=size, alpha=alpha, color=model_colour(model, style), edgecolors="none",
                       label=f"test songs (n={len(rows)})")
            ax.set_xlim(-1.05, 1.05)
            ax.set_ylim(-1.05, 1.05)
            ax.set_aspect("equal")
            score = round(ccc(y_true, y_pred), 3) + 0.0  # + 0.0: no "-0.000"
            ax.set_title(f"{model_label(model, style)}: {target}\nCCC {score:.3f}", fontsize=10)
            ax.set_xlabel(f"true {target} ([-1, 1])")
            ax.set_ylabel(f"predicted {target} ([-1, 1])")
            if row == 0 and col == 0:
                ax.legend(fontsize=7, loc="upper left")
    figure.suptitle("Test set: predicted vs true")
    return figure


def va_space_figure(predictions: pd.DataFrame, style: Mapping[str, Any], dpi: int) -> Figure:
    """True (black rings) and predicted (model colour) points in the valence/arousal plane, joined per song; panels
    wrap at MAX_PANELS_PER_ROW, and markers and lines thin out with the number of songs."""
    models = order_models(predictions["model"].unique().tolist(), style)
    n_rows, n_cols = panel_grid(len(models))
    figure = new_figure(3.9 * n_cols + 0.5, 4.3 * n_rows + 0.3, dpi)
    axes = figure.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax in axes[len(models):]:
        ax.set_visible(False)
    for ax, model in zip(axes, models, strict=False):
        rows = predictions[predictions["model"] == model]
        colour = model_colour(model, style)
        size, alpha = point_style(len(rows))
        true_xy = rows[["valence_true", "arousal_true"]].to_numpy()
        pred_xy = rows[["valence_pred", "arousal_pred"]].to_numpy()
        ax.add_collection(LineCollection(np.stack([true_xy, pred_xy], axis=1), colors=colour, linewidths=0.5,
                                         alpha=alpha / 3))
        ax.scatter(true_xy[:, 0], true_xy[:, 1], s=size, facecolors="none", edgecolors="black",
                   linewidths=0.6, alpha=min(1.0, alpha + 0.2), label="true", zorder=2)
        ax.scatter(pred_xy[:, 0], pred_xy[:, 1], s=size, color=colour, marker="D", alpha=min(1.0, alpha + 0.2),
                   edgecolors="none", label="predicted", zorder=3)
        va_plane_axes(ax)
        ax.set_title(f"{model_label(model, style)} (n={len(rows)})")
        ax.legend(fontsize=7, loc="lower right", markerscale=2)
    figure.suptitle("Test songs in the valence/arousal plane (lines join a song's true and predicted point)")
    return figure


