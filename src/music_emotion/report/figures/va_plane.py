"""Songs on the valence/arousal plane, one point per file: drawn by the inference pipeline and the web page."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from matplotlib.figure import Figure

from music_emotion.report.figure_style import new_figure, va_plane_axes


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
    va_plane_axes(ax)
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
