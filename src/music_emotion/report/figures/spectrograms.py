"""Figures of spectrograms: real examples across the emotion plane, real beside synthetic, the augmented set."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from music_emotion.data import TARGETS
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.report.figure_style import (
    SPECTROGRAM_CMAP,
    new_figure,
    point_style,
    va_plane_axes,
)


# ------------------------------------------------------------------------------ spectrograms
def _time_axis_seconds(spectrograms: SpectrogramSet) -> float:
    """Window length in seconds from the extraction config in `meta` (frames if unknown)."""
    extraction = spectrograms.extraction
    hop, rate = extraction.get("hop_length"), extraction.get("sample_rate")
    if hop and rate:
        return spectrograms.shape[1] * float(hop) / float(rate)
    return float(spectrograms.shape[1])


def _mel_tick_labels(spectrograms: SpectrogramSet, n_ticks: int = 5) -> tuple[np.ndarray, list[str]] | None:
    """Positions (mel bins) and Hz labels for the frequency axis, when the extraction config is known."""
    extraction = spectrograms.extraction
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
    has_time = spectrograms.extraction.get("hop_length")
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
        top_db = spectrograms.extraction.get("top_db")
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
    generated: Mapping[str, tuple[SpectrogramSet, pd.DataFrame]],
    rows: Sequence[tuple[Any, Sequence[Any]]],
    dpi: int,
) -> Figure:
    """Rows of (real song, then each generator's sample generated for the nearest valence/arousal condition), on
    one dB colour scale: `generated` maps a generator to its (spectrograms, labels), `rows` is (song id, one
    sample id per generator, in `generated`'s order)."""
    real_by_id = real_labels.set_index("song_id")
    n, n_cols = len(rows), 1 + len(generated)
    figure = new_figure(6.0 * n_cols, 2.6 * n + 0.8, dpi)
    axes = figure.subplots(n, n_cols, squeeze=False)
    vmin, vmax = _db_range(real, *(spectrograms for spectrograms, _ in generated.values()))
    conditions = [labels.set_index("sample_id")[["valence", "arousal"]] for _, labels in generated.values()]
    image = None
    for row_axes, (song_id, sample_ids) in zip(axes, rows, strict=True):
        image = draw_spectrogram(row_axes[0], real.values[real.indices_of([song_id])[0]], real, vmin, vmax)
        v, a = real_by_id.loc[song_id, ["valence", "arousal"]]
        row_axes[0].set_title(f"real song {song_id}: V {v:+.2f}, A {a:+.2f}", fontsize=10)
        for ax, (spectrograms, _), by_id, sample_id in zip(row_axes[1:], generated.values(), conditions, sample_ids,
                                                            strict=True):
            draw_spectrogram(ax, spectrograms.values[spectrograms.indices_of([sample_id])[0]], spectrograms,
                             vmin, vmax)
            sv, sa = by_id.loc[sample_id]
            ax.set_title(f"synthetic {sample_id}: V {sv:+.2f}, A {sa:+.2f} (condition)", fontsize=10)
    if image is not None:
        figure.colorbar(image, ax=axes.ravel().tolist(), label="power (dB re clip max)", shrink=0.9)
    figure.suptitle(f"Real (left) vs generated ({', '.join(generated)}) spectrograms at the nearest "
                    "valence/arousal condition")
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
        # outlines, not filled bars: two overlapping filled histograms read as one brown block at DEAM size
        ax.hist(real_train_labels[target], bins=bins, density=True, histtype="step", linewidth=2, color=real_colour,
                label=f"real train (n={len(real_train_labels)})")
        ax.hist(synthetic_labels[target], bins=bins, density=True, histtype="step", linewidth=2, linestyle="--",
                color=synthetic_colour, label=f"synthetic (n={len(synthetic_labels)})")
        ax.set_xlabel(f"{target} (scaled to [-1, 1])")
        ax.set_ylabel("density")
        ax.set_title(f"{target.capitalize()} distribution")
        ax.legend(fontsize=8)
    plane = axes[2]
    # synthetic underneath, real on top, both thinned with their count (3,200 crosses hid 1,262 songs)
    size, alpha = point_style(len(synthetic_labels))
    plane.scatter(synthetic_labels["valence"], synthetic_labels["arousal"], s=size, alpha=alpha, marker="x",
                  color=synthetic_colour, label=f"synthetic (n={len(synthetic_labels)})", zorder=1)
    size, alpha = point_style(len(real_train_labels))
    plane.scatter(real_train_labels["valence"], real_train_labels["arousal"], s=size, alpha=alpha,
                  color=real_colour, edgecolors="none", label=f"real train (n={len(real_train_labels)})", zorder=2)
    va_plane_axes(plane)
    plane.set_title("Valence/arousal plane")
    plane.legend(fontsize=8, loc="lower right", markerscale=3)

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
