"""`music-emotion app`: a local Gradio page (the convention of Hugging Face Spaces) over one `EmotionModel`.

Drop audio files -> each file's point on the valence-arousal plane with its quadrant word, its per-window curve
over time, and the table as a CSV to download. The page reads only what was uploaded to it (Gradio's upload
folder; no `allowed_paths`), binds to 127.0.0.1 unless told otherwise, refuses files above a size (Gradio's
`max_file_size`) or a duration (checked from the header before decoding), and runs two requests at once, so one
long upload never holds the page for minutes.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

CONCURRENT_REQUESTS = 2
KEPT_DOWNLOADS = 32  # the newest result tables the page keeps for download; older ones are deleted
TABLE_COLUMNS = ["file", "valence", "arousal", "quadrant", "windows", "status", "reason"]


def analyse(model: Any, paths: list[str], max_seconds: float) -> tuple[pd.DataFrame, list[Any]]:
    """(one row per uploaded file, the predicted songs): files over `max_seconds` are refused with the reason."""
    from music_emotion.audio.decoding import audio_duration

    rows, accepted, names = [], [], []
    for path in paths:
        name = Path(path).name
        try:
            seconds = audio_duration(path)
        except Exception as exc:  # noqa: BLE001 - an unreadable upload is a row with its reason
            rows.append({"file": name, "status": "skipped", "reason": f"not readable as audio ({exc})"})
            continue
        if seconds > max_seconds:
            rows.append({"file": name, "status": "refused",
                         "reason": f"{seconds / 60:.1f} min of audio; this page takes up to {max_seconds / 60:g} min"})
            continue
        accepted.append(path)
        names.append(name)
    songs = list(model.iter_predict(accepted, names=names))
    for song in songs:
        rows.append({"file": song.file, "valence": round(song.valence, 3), "arousal": round(song.arousal, 3),
                     "quadrant": song.quadrant, "windows": song.n_windows, "status": song.status,
                     "reason": song.reason})
    return pd.DataFrame(rows).reindex(columns=TABLE_COLUMNS), [s for s in songs if s.status != "skipped"]


def plane_figure(songs: list[Any], model_name: str) -> Figure:
    from music_emotion.report.figures.va_plane import inference_va_figure
    from music_emotion.serving.file_prediction import QUADRANTS

    files = pd.DataFrame({"valence": [s.valence for s in songs], "arousal": [s.arousal for s in songs]},
                         index=[s.file for s in songs])
    return inference_va_figure(files, QUADRANTS, model_name, max_labels=12, max_label_chars=28, dpi=90)


def curve_figure(songs: list[Any]) -> Figure:
    """Valence and arousal of every window over time, one pair of lines per file."""
    figure = Figure(figsize=(9, 4.5), dpi=90, layout="constrained")
    ax_v, ax_a = figure.subplots(2, 1, sharex=True)
    for song in songs:
        ax_v.plot(song.windows["start_s"], song.windows["valence"], marker="o", ms=3, label=song.file[:40])
        ax_a.plot(song.windows["start_s"], song.windows["arousal"], marker="o", ms=3)
    for ax, name in ((ax_v, "valence"), (ax_a, "arousal")):
        ax.set_ylim(-1.05, 1.05)
        ax.axhline(0, color="0.7", lw=0.8)
        ax.set_ylabel(name)
    ax_a.set_xlabel("window start (s)")
    if songs:
        ax_v.legend(fontsize=7, loc="upper right")
    return figure


def keep_newest(folder: Path, n: int) -> None:
    """Delete all but the `n` newest files of `folder`: a page that runs for weeks keeps a bounded few tables."""
    files = sorted(folder.iterdir(), key=lambda f: f.stat().st_mtime_ns, reverse=True)
    for old in files[n:]:
        old.unlink(missing_ok=True)


def build_app(model: Any, max_file_mb: float, max_seconds: float):
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network call from the page
    import gradio as gr

    downloads = Path(tempfile.mkdtemp(prefix="music_emotion_page_"))  # one folder for the page's life, not per request
    atexit.register(shutil.rmtree, downloads, True)

    def run(files: list[str] | None):
        if not files:
            raise gr.Error("Drop one or more audio files first.")
        table, songs = analyse(model, list(files), max_seconds)
        out = downloads / f"predictions-{uuid.uuid4().hex[:12]}.csv"
        table.to_csv(out, index=False)
        keep_newest(downloads, KEPT_DOWNLOADS)
        return (plane_figure(songs, model.name) if songs else None, curve_figure(songs), table, str(out))

    with gr.Blocks(title="How does this song feel?") as page:
        gr.Markdown(
            "## How does this song feel?\n"
            f"Valence (negative ↔ positive) and arousal (calm ↔ excited), each in [-1, 1], by **{model.name}**. "
            f"Files up to {max_file_mb:g} MB and {max_seconds / 60:g} min. A model is only as good as its "
            "training: a demo model knows synthetic songs only."
        )
        files = gr.File(label="audio files", file_count="multiple", file_types=["audio"], type="filepath")
        button = gr.Button("Predict", variant="primary")
        plane = gr.Plot(label="valence-arousal plane")
        curve = gr.Plot(label="per-window curve")
        table = gr.Dataframe(label="predictions", headers=TABLE_COLUMNS, interactive=False)
        download = gr.File(label="download the table (CSV)")
        button.click(run, inputs=files, outputs=[plane, curve, table, download],
                     concurrency_limit=CONCURRENT_REQUESTS)
    return page.queue(default_concurrency_limit=CONCURRENT_REQUESTS)
