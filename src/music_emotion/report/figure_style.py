"""What every figure shares: an Agg canvas, each arm's colour and label from conf, the arms' order, the V/A plane."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from music_emotion.study.arms import arm_style

SPECTROGRAM_CMAP = "magma"
FALLBACK_COLOUR = "#7f7f7f"
MAX_PANELS_PER_ROW = 4  # a row of 7 arms at DEAM size made panels too small to read (3,058 x 506 px)


def new_figure(width: float, height: float, dpi: int) -> Figure:
    """A figure on its own non-interactive Agg canvas (constrained layout keeps labels inside)."""
    figure = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def panel_grid(n_panels: int, max_per_row: int = MAX_PANELS_PER_ROW) -> tuple[int, int]:
    """(rows, columns) for `n_panels` panels, at most `max_per_row` to a row."""
    columns = max(1, min(n_panels, max_per_row))
    return math.ceil(max(n_panels, 1) / columns), columns


def point_style(n_points: int) -> tuple[float, float]:
    """(marker area, alpha) for a scatter of `n_points`: full size up to ~100 points, then the area shrinking as
    1/sqrt(n) and the alpha as n^-1/4 (floors 3 and 0.35), so 270 test songs or 3,200 synthetic labels stay a
    readable cloud rather than one blot."""
    scale = math.sqrt(100 / max(n_points, 1))
    return min(16.0, max(3.0, 16.0 * scale)), min(0.8, max(0.35, 0.8 * math.sqrt(scale)))


def model_colour(model: str, style: Mapping[str, Any]) -> str:
    return style.get("model_colours", {}).get(model, FALLBACK_COLOUR)


def model_label(model: str, style: Mapping[str, Any]) -> str:
    return style.get("model_labels", {}).get(model, model)


def order_models(models: Sequence[str], style: Mapping[str, Any]) -> list[str]:
    """Models in the configured order (baselines first), unknown ones after, alphabetically."""
    preferred = list(style.get("model_order", []))
    present = list(dict.fromkeys(models))
    return [m for m in preferred if m in present] + sorted(m for m in present if m not in preferred)


def va_plane_axes(ax) -> None:
    ax.axhline(0, color="#bbbbbb", lw=0.8, zorder=0)
    ax.axvline(0, color="#bbbbbb", lw=0.8, zorder=0)
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.set_xlabel("valence (scaled to [-1, 1])")
    ax.set_ylabel("arousal (scaled to [-1, 1])")


def figure_style_of(params: Mapping[str, Any], arms: Mapping[str, Any]) -> dict[str, Any]:
    """Reporting style (real/synthetic colours) + each arm's label and colour from the `arms` map."""
    return {**params["style"], **arm_style(arms)}
