"""Matplotlib drawing for the reporting pipeline: data in, `Figure` out, nothing shown or saved.

Figures are built with the object-oriented API on an explicit Agg canvas (`new_figure`), never
through pyplot's global state: no window can open, no figure leaks between nodes, and importing
this module does not switch the backend of a notebook that imports it. Saving is the catalog's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from music_emotion.metrics import TARGETS, ccc
from music_emotion.spectrograms import SpectrogramSet

SPECTROGRAM_CMAP = "magma"
FALLBACK_COLOUR = "#7f7f7f"


def new_figure(width: float, height: float, dpi: int) -> Figure:
    """A figure on its own non-interactive Agg canvas (constrained layout keeps labels inside)."""
    figure = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def model_colour(model: str, style: Mapping[str, Any]) -> str:
    return style.get("model_colours", {}).get(model, FALLBACK_COLOUR)


def model_label(model: str, style: Mapping[str, Any]) -> str:
    return style.get("model_labels", {}).get(model, model)


def order_models(models: Sequence[str], style: Mapping[str, Any]) -> list[str]:
    """Models in the configured order (baselines first), unknown ones after, alphabetically."""
    preferred = list(style.get("model_order", []))
    present = list(dict.fromkeys(models))
    return [m for m in preferred if m in present] + sorted(m for m in present if m not in preferred)


# ------------------------------------------------------------------------------ spectrograms
def _time_axis_seconds(spectrograms: SpectrogramSet) -> float:
    """Window length in seconds from the extraction config in `meta` (frames if unknown)."""
    extraction = spectrograms.meta.get("extraction", {})
    hop, rate = extraction.get("hop_length"), extraction.get("sample_rate")
    if hop and rate:
        return spectrograms.shape[1] * float(hop) / float(rate)
    return float(spectrograms.shape[1])


def _mel_tick_labels(spectrograms: SpectrogramSet, n_ticks: int = 5) -> tuple[np.ndarray, list[str]] | None:
    """Positions (mel bins) and Hz labels for the frequency axis, when the extraction config is known."""
    extraction = spectrograms.meta.get("extraction", {})
    n_mels = spectrograms.shape[0]
    rate = extraction.get("sample_rate")
    if not rate:
        return None
    import librosa

    fmax = extraction.get("fmax") or rate / 2
    centres = librosa.mel_frequencies(n_mels=n_mels, fmin=extraction.get("fmin", 0.0), fmax=fmax)
    positions = np.linspace(0, n_mels - 1, n_ticks).round().astype(int)
    labels = [f"{centres[p] / 1000:.1f}k" if centres[p] >= 1000 else f"{centres[p]:.0f}" for p in positions]
    return positions, labels


def draw_spectrogram(ax, values: np.ndarray, spectrograms: SpectrogramSet, vmin: float, vmax: float):
    """One dB spectrogram with time (s) and frequency (Hz on the mel scale) axes; returns the image."""
    seconds = _time_axis_seconds(spectrograms)
    has_time = "extraction" in spectrograms.meta and spectrograms.meta["extraction"].get("hop_length")
    image = ax.imshow(
        np.asarray(values),
        origin="lower",
        aspect="auto",
        cmap=SPECTROGRAM_CMAP,
        vmin=vmin,
        vmax=vmax,
        extent=(0, seconds, -0.5, spectrograms.shape[0] - 0.5),
        interpolation="nearest",
    )
    ax.set_xlabel("time (s)" if has_time else "frame")
    ticks = _mel_tick_labels(spectrograms)
    if ticks is not None:
        ax.set_yticks(ticks[0], ticks[1])
        ax.set_ylabel("frequency (Hz, mel scale)")
    else:
        ax.set_ylabel("mel band")
    return image


def _db_range(*sets: SpectrogramSet) -> tuple[float, float]:
    """Colour scale shared by all panels: the extraction's dB floor (or data min) up to 0 dB."""
    for spectrograms in sets:
        top_db = spectrograms.meta.get("extraction", {}).get("top_db")
        if top_db:
            return -float(top_db), 0.0
    return -80.0, 0.0


def spectrogram_examples_figure(
    spectrograms: SpectrogramSet, labels: pd.DataFrame, song_ids: Sequence[int], dpi: int
) -> Figure:
    """A grid of real log-mel spectrograms, each titled with its song id and valence/arousal."""
    by_id = labels.set_index("song_id")
    n = len(song_ids)
    n_cols = 2 if n > 1 else 1
    n_rows = int(np.ceil(n / n_cols))
    figure = new_figure(6.0 * n_cols, 2.8 * n_rows + 0.6, dpi)
    axes = np.atleast_1d(figure.subplots(n_rows, n_cols, squeeze=False)).ravel()
    vmin, vmax = _db_range(spectrograms)
    rows = spectrograms.indices_of(song_ids)
    image = None
    for ax, song_id, row in zip(axes, song_ids, rows, strict=False):
        image = draw_spectrogram(ax, spectrograms.values[row], spectrograms, vmin, vmax)
        v, a = by_id.loc[song_id, "valence"], by_id.loc[song_id, "arousal"]
        ax.set_title(f"song {song_id}: valence {v:+.2f}, arousal {a:+.2f}", fontsize=10)
    for ax in axes[n:]:
        ax.set_visible(False)
    if image is not None:
        figure.colorbar(image, ax=axes[:n].tolist(), label="power (dB re clip max)", shrink=0.9)
    n_mels, n_frames = spectrograms.shape
    figure.suptitle(f"Real log-mel spectrograms ({n_mels} mel bands x {n_frames} frames)")
    return figure


def real_vs_synthetic_figure(
    real: SpectrogramSet,
    real_labels: pd.DataFrame,
    synthetic: SpectrogramSet,
    synthetic_labels: pd.DataFrame,
    pairs: Sequence[tuple[Any, Any]],
    dpi: int,
) -> Figure:
    """Rows of (real song, synthetic sample generated for the nearest valence/arousal condition)."""
    real_by_id = real_labels.set_index("song_id")
    synthetic_by_id = synthetic_labels.set_index("sample_id")
    n = len(pairs)
    figure = new_figure(12.0, 2.6 * n + 0.8, dpi)
    axes = figure.subplots(n, 2, squeeze=False)
    vmin, vmax = _db_range(real, synthetic)
    image = None
    for (ax_real, ax_synthetic), (song_id, sample_id) in zip(axes, pairs, strict=True):
        image = draw_spectrogram(ax_real, real.values[real.indices_of([song_id])[0]], real, vmin, vmax)
        v, a = real_by_id.loc[song_id, ["valence", "arousal"]]
        ax_real.set_title(f"real song {song_id}: V {v:+.2f}, A {a:+.2f}", fontsize=10)
        draw_spectrogram(
            ax_synthetic, synthetic.values[synthetic.indices_of([sample_id])[0]], synthetic, vmin, vmax
        )
        sv, sa = synthetic_by_id.loc[sample_id, ["valence", "arousal"]]
        ax_synthetic.set_title(f"synthetic {sample_id}: V {sv:+.2f}, A {sa:+.2f} (condition)", fontsize=10)
    if image is not None:
        figure.colorbar(image, ax=axes.ravel().tolist(), label="power (dB re clip max)", shrink=0.9)
    figure.suptitle("Real (left) vs GAN-generated (right) spectrograms at the nearest valence/arousal condition")
    return figure


# ----------------------------------------------------------------------------------- GAN
GAN_PANELS = (
    ("Adversarial losses", "loss per step (mean since the last evaluation)",
     (("generator_loss", "generator (adversarial + auxiliary)"), ("discriminator_loss", "discriminator"))),
    ("Auxiliary V/A regression on D", "MSE of D's V/A reading",
     (("aux_mse_real", "real windows vs their labels"), ("aux_mse_fake", "generated windows vs their conditions"))),
    ("Conditioning: do samples carry their V/A?", "CCC, conditions vs V/A read back",
     (("conditioning_ccc_valence", "valence"), ("conditioning_ccc_arousal", "arousal"))),
    ("Realism", "Fréchet ratio (1 = as close as real windows)",
     (("frechet_ratio", "synthetic vs real TRAIN windows"),)),
)


def gan_training_curves_figure(history: pd.DataFrame, dpi: int) -> Figure:
    """Losses, auxiliary MSEs, conditioning CCC and Fréchet ratio per evaluation step; the kept step starred.

    Panels whose columns the history lacks (e.g. no auxiliary head in the notebook recipe) are left out.
    """
    x = history["step"] if "step" in history else history["epoch"]
    panels = [p for p in GAN_PANELS if any(column in history for column, _ in p[2])]
    figure = new_figure(5.0 * len(panels), 4.2, dpi)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    kept = history[history["is_best"].astype(bool)] if "is_best" in history else history.iloc[:0]
    for ax, (title, ylabel, curves) in zip(axes, panels, strict=True):
        for column, label in curves:
            if column in history:
                line, = ax.plot(x, history[column], marker="o", ms=3, label=label)
                if not kept.empty:
                    ax.plot(kept[x.name], kept[column], ls="none", marker="*", ms=12, color=line.get_color(),
                            markeredgecolor="black", markeredgewidth=0.5)
        ax.set_title(title)
        ax.set_xlabel("optimiser step" if x.name == "step" else "epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    step = f", kept step {int(kept[x.name].iloc[0])} (star)" if not kept.empty else ""
    figure.suptitle(f"Conditional GAN training: {int(x.iloc[-1])} {x.name}s{step}")
    return figure


def augmented_dataset_figure(
    real_train_labels: pd.DataFrame,
    synthetic_labels: pd.DataFrame,
    split_counts: Mapping[str, int],
    style: Mapping[str, Any],
    dpi: int,
) -> Figure:
    """Label distributions (real train vs synthetic), the V/A plane, and song counts per split."""
    real_colour = style["real_colour"]
    synthetic_colour = style["synthetic_colour"]
    figure = new_figure(17.0, 4.4, dpi)
    axes = figure.subplots(1, 4)
    bins = np.linspace(-1, 1, 21)
    for ax, target in zip(axes[:2], TARGETS, strict=True):
        ax.hist(real_train_labels[target], bins=bins, density=True, alpha=0.6, color=real_colour,
                label=f"real train (n={len(real_train_labels)})")
        ax.hist(synthetic_labels[target], bins=bins, density=True, alpha=0.6, color=synthetic_colour,
                label=f"synthetic (n={len(synthetic_labels)})")
        ax.set_xlabel(f"{target} (scaled to [-1, 1])")
        ax.set_ylabel("density")
        ax.set_title(f"{target.capitalize()} distribution")
        ax.legend(fontsize=8)
    plane = axes[2]
    plane.scatter(real_train_labels["valence"], real_train_labels["arousal"], s=10, alpha=0.6,
                  color=real_colour, label="real train")
    plane.scatter(synthetic_labels["valence"], synthetic_labels["arousal"], s=10, alpha=0.5, marker="x",
                  color=synthetic_colour, label="synthetic")
    _va_plane_axes(plane)
    plane.set_title("Valence/arousal plane")
    plane.legend(fontsize=8, loc="lower right")

    counts = axes[3]
    real_train = int(split_counts.get("train", 0))
    n_synthetic = len(synthetic_labels)
    names = ["train", "val", "test"]
    values = [int(split_counts.get(name, 0)) for name in names]
    counts.bar(names, values, color=real_colour, label="real songs")
    counts.bar(["train"], [n_synthetic], bottom=[real_train], color=synthetic_colour, label="synthetic (train only)")
    for x, name in enumerate(names):
        total = values[x] + (n_synthetic if name == "train" else 0)
        counts.text(x, total, str(total), ha="center", va="bottom", fontsize=9)
    expansion = (real_train + n_synthetic) / real_train if real_train else float("nan")
    counts.set_ylabel("number of training examples")
    counts.set_title(f"Counts per split (train expansion x{expansion:.2f})")
    counts.legend(fontsize=8)
    figure.suptitle("Real vs synthetic training data")
    return figure


def _va_plane_axes(ax) -> None:
    ax.axhline(0, color="#bbbbbb", lw=0.8, zorder=0)
    ax.axvline(0, color="#bbbbbb", lw=0.8, zorder=0)
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.set_xlabel("valence (scaled to [-1, 1])")
    ax.set_ylabel("arousal (scaled to [-1, 1])")


# ----------------------------------------------------------------------------------- ViT
VIT_PANELS = (
    ("MSE loss: train crops vs val songs", "train_loss", "val_loss", "mean squared error"),
    ("val MAE valence (per song)", None, "val_mae_valence", "mean absolute error"),
    ("val MAE arousal (per song)", None, "val_mae_arousal", "mean absolute error"),
    ("val CCC, mean of V and A (selects the epoch)", None, "val_ccc_mean", "CCC"),
    ("val CCC valence (per song)", None, "val_ccc_valence", "CCC"),
    ("val CCC arousal (per song)", None, "val_ccc_arousal", "CCC"),
)


def vit_training_curves_figure(histories: Mapping[str, pd.DataFrame], style: Mapping[str, Any], dpi: int) -> Figure:
    """Loss, MAE and CCC per epoch for every trained model: colour = model, solid = train, dashed = val.

    The checkpoint kept (`is_best`) is starred on the validation curves.
    """
    figure = new_figure(16.0, 8.0, dpi)
    axes = figure.subplots(2, 3).ravel()
    for ax, (title, train_column, val_column, ylabel) in zip(axes, VIT_PANELS, strict=True):
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
    figure.suptitle("ViT / AST training per epoch: train loss on random crops, validation per song (mean of its windows)")
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
            ax.scatter(y_true, y_pred, s=12, alpha=0.7, color=model_colour(model, style), edgecolors="none",
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
    """True (grey) and predicted (model colour) points in the valence/arousal plane, joined per song."""
    models = order_models(predictions["model"].unique().tolist(), style)
    figure = new_figure(3.9 * len(models) + 0.5, 4.6, dpi)
    axes = figure.subplots(1, len(models), squeeze=False)[0]
    for ax, model in zip(axes, models, strict=True):
        rows = predictions[predictions["model"] == model]
        colour = model_colour(model, style)
        true_xy = rows[["valence_true", "arousal_true"]].to_numpy()
        pred_xy = rows[["valence_pred", "arousal_pred"]].to_numpy()
        segments = np.stack([true_xy, pred_xy], axis=1)
        for segment in segments:
            ax.plot(segment[:, 0], segment[:, 1], color=colour, lw=0.5, alpha=0.25)
        ax.scatter(true_xy[:, 0], true_xy[:, 1], s=16, facecolors="none", edgecolors="black", linewidths=0.8,
                   label="true", zorder=2)
        ax.scatter(pred_xy[:, 0], pred_xy[:, 1], s=14, color=colour, marker="D", label="predicted", zorder=3)
        _va_plane_axes(ax)
        ax.set_title(model_label(model, style))
        ax.legend(fontsize=7, loc="lower right")
    figure.suptitle("Test songs in the valence/arousal plane (lines join a song's true and predicted point)")
    return figure


# ----------------------------------------------------------------------------- experiment
def experiment_deltas_figure(comparison: pd.DataFrame, style: Mapping[str, Any], dpi: int, metric: str = "ccc") -> Figure:
    """Each arm minus the reference arm (mean paired difference over folds x seeds, 95 % paired-bootstrap CI
    over songs), one row per arm, one panel per target, with the zero line: a bar crossing zero = no evidence."""
    rows = comparison[comparison["metric"] == metric]
    arms = order_models(rows["arm"].unique().tolist(), style)
    figure = new_figure(5.2 * len(TARGETS), 0.9 + 0.55 * max(1, len(arms)), dpi)
    axes = figure.subplots(1, len(TARGETS), squeeze=False, sharey=True)[0]
    for ax, target in zip(axes, TARGETS, strict=True):
        for position, arm in enumerate(arms):
            row = rows[(rows["arm"] == arm) & (rows["target"] == target)].iloc[0]
            colour = model_colour(arm, style)
            ax.errorbar(row["mean_difference"], position, xerr=[[row["mean_difference"] - row["ci_low"]],
                                                               [row["ci_high"] - row["mean_difference"]]],
                        fmt="o", color=colour, capsize=4, lw=1.6)
            ax.annotate(f"p = {row['p_value']:.2g}", (row["mean_difference"], position), xytext=(0, 7),
                        textcoords="offset points", ha="center", fontsize=8)
        ax.axvline(0.0, color="black", lw=1, ls="--")
        ax.set_yticks(range(len(arms)), [model_label(a, style) for a in arms])
        ax.set_ylim(-0.7, len(arms) - 0.3)
        ax.set_xlabel(f"{target} {metric.upper()} difference vs {rows['reference'].iloc[0]} (95 % CI)")
        ax.set_title(target)
        ax.grid(axis="x", alpha=0.3)
    figure.suptitle(f"Paired differences over {int(rows['n_units'].max())} folds x seeds (left of 0 = worse)")
    return figure


# ------------------------------------------------------------------------------ inference
def inference_va_figure(files: pd.DataFrame, quadrants: Mapping[tuple[int, int], str], model: str | None,
                        max_labels: int, max_label_chars: int, dpi: int) -> Figure:
    """Each file's mean valence/arousal in the plane, with the quadrant names. Up to `max_labels` files are
    named beside their point; more are numbered, with the numbered list of names beside the plane, so a plot of
    a 50-song folder stays readable."""
    numbered = len(files) > max_labels
    figure = new_figure(8.0 + (4.5 if numbered else 0.0), 8.0, dpi)
    ax = figure.add_subplot(1, 2, 1) if numbered else figure.add_subplot(1, 1, 1)
    for (v_sign, a_sign), label in quadrants.items():
        ax.text(0.97 * v_sign, 0.95 * a_sign, label, ha="right" if v_sign > 0 else "left",
                va="top" if a_sign > 0 else "bottom", fontsize=10, color="0.35", style="italic")
    ax.scatter(files["valence"], files["arousal"], s=40 if not numbered else 24, color="tab:blue", zorder=3)
    names = [n if len(n) <= max_label_chars else n[: max_label_chars - 1] + "…" for n in files.index]
    for k, (name, row) in enumerate(zip(names, files.itertuples(), strict=True), start=1):
        ax.annotate(str(k) if numbered else name, (row.valence, row.arousal), xytext=(4, 4),
                    textcoords="offset points", fontsize=7 if numbered else 8)
    _va_plane_axes(ax)
    ax.set_xlabel("valence (negative ← → positive), [-1, 1]")
    ax.set_ylabel("arousal (calm ← → excited), [-1, 1]")
    ax.set_title(f"Predicted emotion of {len(files)} file(s)" + (f" — model: {model}" if model else ""))
    if numbered:
        listing = figure.add_subplot(1, 2, 2)
        listing.axis("off")
        full = [n if len(n) <= 40 else n[:39] + "…" for n in files.index]  # the list has room for longer names
        columns = 1 if len(full) <= 45 else 2
        per_column = -(-len(full) // columns)
        for c in range(columns):
            chunk = full[c * per_column : (c + 1) * per_column]
            listing.text(c / columns, 1.0, "\n".join(f"{c * per_column + i + 1:>3}  {n}" for i, n in enumerate(chunk)),
                         va="top", ha="left", family="monospace", fontsize=7, transform=listing.transAxes)
    return figure
