"""Nodes of `inference`: valence/arousal for the user's own audio with a trained ViT.

Preprocessing is read from the model (`config["extraction"]` and `config["input"]`), never
re-declared here, so a model trained on other mel settings or in `native` mode always gets the
input it was trained on. Files are read, never modified.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from music_emotion.audio.engine import EngineParams, FileEngine, whole_files_seconds
from music_emotion.console import progress_bar
from music_emotion.models.regression_head import WindowedRegressor
from music_emotion.models.runtime import resolve_device, torch_threads
from music_emotion.serving.file_prediction import (
    QUADRANTS,
    WINDOW_COLUMNS,
    model_feature_config,
    predict_batches,
    spreadsheet_safe,
)
from music_emotion.serving.library import (
    already_predicted,
    batches,
    choose_run_folder,
    library_files,
    part_name,
    run_identity,
)

logger = logging.getLogger(__name__)

FILE_COLUMNS = ["file", "status", "reason", "n_windows", "valence", "arousal", "model", "run"]
def predict_library(
    inference_audio: Mapping[str, str], inference_model: WindowedRegressor,
    predicted_parts: Mapping[str, Callable[[], pd.DataFrame]], params: dict[str, Any], dask: dict[str, Any],
    device: str, run_lineage: Mapping[str, Any],
) -> Iterator[dict[str, pd.DataFrame]]:
    """Predict a whole folder batch by batch, yielding each batch's window rows as one Parquet part as it goes.

    Decoding runs on the engine (`dask`: a local cluster or a scheduler; one process for tiny folders), the
    model on this process's device; the next batch decodes while the current one is predicted. Files already
    predicted into the same run folder (see `library.py`) are skipped, so an interrupted run loses at most the
    batch in flight. A file that fails is a `skipped` row with its reason; the run goes on.
    """
    files = library_files(inference_audio)
    if not files:
        raise ValueError(
            "The inference folder holds no audio file. Put your songs in data/01_raw/my_music/ or point at "
            "another folder with --params inference.input_dir=/path/to/folder"
        )
    started = run_lineage.get("run") or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H.%M.%S.%fZ")
    folder = choose_run_folder(predicted_parts, run_identity(inference_audio, inference_model),
                               bool(params["resume"]), started)
    done, first_part = already_predicted(predicted_parts, folder)
    todo = [f for f in files if f.key not in done]
    logger.info("Library: %d file(s), %d already predicted in %s, %d to do", len(files), len(files) - len(todo),
                folder, len(todo))
    config, torch_device = model_feature_config(inference_model), resolve_device(device)
    logger.info("Model: the '%s' arm's %s", params["model"], inference_model.description)
    work = batches(todo, int(params["files_per_batch"]))
    counts = {"ok": 0, "failed": 0}
    progress = progress_bar(total=len(todo), desc="inference", unit="file")
    engine_params = EngineParams.from_params(dask)
    audio = whole_files_seconds([f.path for f in todo], engine_params.min_audio_seconds)
    with FileEngine(engine_params, len(todo), config.duration, audio) as engine, torch_threads(
            engine.client_threads if torch_device.type == "cpu" else None):
        predicted = predict_batches(engine, [[f.path for f in b] for b in work], [[f.name for f in b] for b in work],
                                    inference_model, config, float(params["min_window_fraction"]),
                                    int(params["batch_size"]), torch_device, [[f.problem for f in b] for b in work])
        for number, (batch, per_file) in enumerate(zip(work, predicted, strict=True), start=first_part):
            rows = []
            for file, file_rows in zip(batch, per_file, strict=True):
                counts["failed" if file_rows[0]["status"] == "skipped" else "ok"] += 1
                rows += [{**row, "size": file.size, "mtime_ns": file.mtime_ns} for row in file_rows]
            progress.update(len(batch))
            yield {part_name(folder, number): _part_table(rows, params["model"], folder)}
    progress.close()
    logger.info("Library done: %d predicted, %d skipped (already predicted), %d failed (see library_errors)",
                counts["ok"], len(files) - len(todo), counts["failed"])


def _part_table(rows: list[dict[str, Any]], model: str, folder: str) -> pd.DataFrame:
    table = pd.DataFrame(rows).reindex(columns=[*WINDOW_COLUMNS, "size", "mtime_ns"])
    # From the raw ints: a part with one unreadable entry (size None) would make the column float64, whose 53-bit
    # mantissa rounds nanosecond mtimes, so the resume key and the summary would no longer match the file.
    for column in ("size", "mtime_ns"):
        table[column] = pd.array([row.get(column) for row in rows], dtype="Int64")
    table = table.astype({"segment": "Int64", "padded": "boolean"})
    return table.assign(model=model, run=folder)


def summarise_library(
    predicted_parts: Mapping[str, Callable[[], pd.DataFrame]], inference_audio: Mapping[str, str],
    inference_model: WindowedRegressor,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per file of the current run folder: mean V/A over its windows; the files that failed, with why).

    Parts are read one at a time, so memory grows with the number of files, not of windows. One row per file of
    the folder as it is now: a file predicted again (it changed, or a part was copied) counts once, from its last
    part whose size and modification time are the file's current ones; rows of files no longer there are left out."""
    folder = choose_run_folder(predicted_parts, run_identity(inference_audio, inference_model), True, "")
    current = {f.name: f.key for f in library_files(inference_audio)}
    latest: dict[str, dict[str, Any]] = {}
    for key in sorted(k for k in predicted_parts if k.split("/", 1)[0] == folder):
        table = predicted_parts[key]()
        for file, rows in table.groupby("file", sort=False):
            first = rows.iloc[0]
            size, mtime = (None if pd.isna(first[c]) else int(first[c]) for c in ("size", "mtime_ns"))
            if current.get(file) != (file, size, mtime):
                continue  # a stale prediction of a file that has changed since, or is gone
            ok = rows[rows["status"] != "skipped"]
            latest[file] = {
                "file": file, "status": "skipped" if ok.empty else ("padded" if ok["padded"].all() else "ok"),
                "reason": rows["reason"].iloc[0] if ok.empty else "", "n_windows": len(ok),
                "valence": ok["valence"].mean() if len(ok) else np.nan,
                "arousal": ok["arousal"].mean() if len(ok) else np.nan,
                "model": rows["model"].iloc[0], "run": folder,
            }
    per_file = list(latest.values())
    files = pd.DataFrame(per_file, columns=FILE_COLUMNS).sort_values("file", kind="stable").reset_index(drop=True)
    if not files.empty and (files["status"] == "skipped").all():
        raise ValueError(f"None of the {len(files)} file(s) could be decoded as audio; reasons: "
                         f"{files['reason'].value_counts().to_dict()}")
    errors = files.loc[files["status"] == "skipped", ["file", "reason"]].reset_index(drop=True)
    for table in (files, errors):  # file names are the user's: never formulas in a spreadsheet
        table["file"] = table["file"].map(spreadsheet_safe)
    return files, errors


def plot_va_plane(inference_predictions: pd.DataFrame, params: dict[str, Any]) -> Figure:
    """Each file's mean valence/arousal (one row per file, as `summarise_library` writes) in the circumplex plane,
    named (numbered beyond `max_labels` files), with the four quadrant labels; drawn like every other figure of the
    project (`report.figures`)."""
    from music_emotion.report.figures.va_plane import inference_va_figure

    files = (inference_predictions[inference_predictions["status"] != "skipped"]
             .set_index("file").sort_index()[["valence", "arousal"]])
    model = inference_predictions["model"].dropna().unique()
    return inference_va_figure(files, QUADRANTS, str(model[0]) if len(model) else None,
                                       int(params["max_labels"]), int(params["max_label_chars"]), int(params["dpi"]))
