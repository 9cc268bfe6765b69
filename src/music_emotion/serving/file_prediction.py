"""One audio file -> its model windows' valence/arousal rows: the per-file work of every way in.

The inference pipeline, `EmotionModel` (Python), `music-emotion predict` and the web page all call these, so a
song gets the same numbers whichever door it came through.

`file_tasks.decode_file` runs wherever the engine puts it (a Dask worker or this process) and returns the file's
stored-span chunks as the model's features (log-mel or Kaldi fbank), or why it cannot be read; `window_rows` applies
the model to them on the client, with the same `predict_songs` code path as validation and test songs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

import numpy as np

from music_emotion.audio.decoding import FeatureConfig, iter_windows, skip_reason
from music_emotion.audio.engine import EngineFailure, FileEngine
from music_emotion.audio.file_tasks import STREAM_ABOVE_CHUNKS, Decoded, Deferred, decode_file
from music_emotion.audio.log_mel import feature_config
from music_emotion.data.windows import average_by_song
from music_emotion.models.regression_head import WindowedRegressor
from music_emotion.models.song_prediction import predict_songs

WINDOW_COLUMNS = ["file", "status", "reason", "segment", "segment_start_s", "padded", "valence", "arousal",
                  "file_valence", "file_arousal", "model"]

QUADRANTS = {  # (valence sign, arousal sign) -> Russell's circumplex quadrant
    (1, 1): "happy / excited",
    (-1, 1): "angry / tense",
    (-1, -1): "sad / depressed",
    (1, -1): "calm / relaxed",
}


def quadrant_of(valence: float, arousal: float) -> str:
    return QUADRANTS[(1 if valence >= 0 else -1, 1 if arousal >= 0 else -1)]


def spreadsheet_safe(text: Any) -> Any:
    """A cell that starts with =, +, - or @ gets a leading apostrophe, so spreadsheets show it instead of
    executing it (e.g. a file named `=HYPERLINK(...).mp3`); other values are returned unchanged."""
    return "'" + text if isinstance(text, str) and text[:1] in ("=", "+", "-", "@") else text


def model_feature_config(model: WindowedRegressor) -> FeatureConfig:
    """The features the model was trained on (log-mel for a ViT, Kaldi fbank for an AST), from its own config."""
    extraction = model.config.get("extraction") or {}
    if not extraction:
        raise ValueError(
            "The loaded model stores no extraction settings, so its input cannot be reproduced; "
            "retrain it with `kedro run --pipelines training`"
        )
    return feature_config(extraction)


def song_mean(windows: np.ndarray) -> np.ndarray:
    """A file's (2,) mean over its windows' predictions, by the arithmetic that averages a song's windows in
    validation and test (`average_by_song`), so a served file and a scored song of the same audio agree bit for bit."""
    return average_by_song(windows, np.zeros(len(windows), dtype=np.int64), 1)[0]


def window_rows(file_name: str, decoded: Decoded | Deferred | str | EngineFailure, model: WindowedRegressor,
                batch_size: int, device: Any) -> list[dict[str, Any]]:
    """One row per model window of the file (with the file's mean), or one `skipped` row with the reason."""
    if isinstance(decoded, EngineFailure):
        decoded = decoded.reason
    if isinstance(decoded, Deferred):
        groups = _chunk_groups(decoded, model_feature_config(model))
    else:
        groups = iter([decoded])
    rows: list[dict[str, Any]] = []
    predictions = []
    try:
        for group in groups:
            if isinstance(group, str):
                return [{"file": file_name, "status": "skipped", "reason": group}]
            group_rows, group_predictions = _group_rows(file_name, group, model, batch_size, device, len(rows))
            rows += group_rows
            predictions.append(group_predictions)
    except Exception as exc:  # noqa: BLE001 - a long file that breaks mid-way is skipped with its reason
        return [{"file": file_name, "status": "skipped", "reason": skip_reason(exc)}]
    windows = np.concatenate(predictions)
    if not np.all(np.isfinite(windows)):  # a prediction is a number in [-1, 1] or a named skip
        return [{"file": file_name, "status": "skipped",
                 "reason": "the model's output is not a number for this file (its features are out of range)"}]
    file_mean = song_mean(windows)
    for row in rows:
        row["file_valence"], row["file_arousal"] = float(file_mean[0]), float(file_mean[1])
    return rows


def predict_batches(engine: FileEngine, paths: Sequence[Sequence[str]], names: Sequence[Sequence[str]],
                    model: WindowedRegressor, config: FeatureConfig, min_window_fraction: float, batch_size: int,
                    device: Any, problems: Sequence[Sequence[str | None]] | None = None,
                    ) -> Iterator[list[list[dict[str, Any]]]]:
    """The one prediction loop of every way in: each batch of `paths` is decoded on `engine` (the next batch
    decodes while this one is predicted; a long file streams in this process on the one-process engine) and
    yields, per file, its window rows named by `names`. A file with a known `problems` entry (e.g. it could not be
    opened when listed) gets a skipped row with that reason whatever its decoding said."""
    decoded_batches = engine.map_batches(decode_file, [list(batch) for batch in paths], config, min_window_fraction,
                                         engine.kind == "single")
    for k, (batch_names, decoded) in enumerate(zip(names, decoded_batches, strict=True)):
        if problems is not None:
            decoded = [problem or result for problem, result in zip(problems[k], decoded, strict=True)]
        yield batch_rows(list(batch_names), decoded, model, batch_size, device)


def batch_rows(names: list[str], decoded: list[Decoded | Deferred | str | EngineFailure], model: WindowedRegressor,
                batch_size: int, device: Any) -> list[list[dict[str, Any]]]:
    """`window_rows` of a batch of files, with the windows of its short files predicted together: a folder of
    thousands of short songs otherwise runs the model once per file on a batch of one or two windows (1.8x the
    time per short file, measured). Every way in batches files by `files_per_batch`, so the numbers agree; a file's
    values may differ in the 7th decimal with the files that share its batch (floating-point sums)."""
    pooled = [i for i, d in enumerate(decoded) if isinstance(d, tuple) and len(d[1]) <= STREAM_ABOVE_CHUNKS]
    out = [None if i in pooled else window_rows(names[i], d, model, batch_size, device)
           for i, d in enumerate(decoded)]
    if pooled:
        values = np.concatenate([np.asarray(decoded[i][1]) for i in pooled])
        valid = np.concatenate([np.asarray(decoded[i][3]) for i in pooled])
        owner = np.concatenate([np.full(len(decoded[i][1]), k) for k, i in enumerate(pooled)])
        predicted = predict_songs(model, values, np.arange(len(values)), valid, batch_size, device)
        first_chunk = np.concatenate([[0], np.cumsum([len(decoded[i][1]) for i in pooled])])
        for k, i in enumerate(pooled):
            mine = owner[predicted.window_song] == k
            out[i] = _file_rows(names[i], decoded[i], predicted.window_song[mine] - first_chunk[k],
                                predicted.window_start[mine], predicted.windows[mine], model)
    return out


def _file_rows(file_name: str, decoded: Decoded, window_chunk: np.ndarray, window_start: np.ndarray,
               windows: np.ndarray, model: WindowedRegressor) -> list[dict[str, Any]]:
    """One file's rows with its mean, from its windows' predictions (chunk index, start frame, V/A)."""
    if not np.all(np.isfinite(windows)):  # a prediction is a number in [-1, 1] or a named skip
        return [{"file": file_name, "status": "skipped",
                 "reason": "the model's output is not a number for this file (its features are out of range)"}]
    rows = _rows(file_name, decoded, window_chunk, window_start, windows, model, 0)
    file_mean = song_mean(windows)
    for row in rows:
        row["file_valence"], row["file_arousal"] = float(file_mean[0]), float(file_mean[1])
    return rows


def _rows(file_name: str, decoded: Decoded, window_chunk: np.ndarray, window_start: np.ndarray, windows: np.ndarray,
          model: WindowedRegressor, first_segment: int) -> list[dict[str, Any]]:
    config = model_feature_config(model)
    seconds_per_frame = config.hop_length / config.sample_rate
    chunk_starts, _, padded, valid = decoded
    rows = []
    for k, (song, frame, pred) in enumerate(zip(window_chunk, window_start, windows, strict=True)):
        short = bool(padded[song]) and valid[song] < model.window_frames
        rows.append({
            "file": file_name, "status": "padded" if short else "ok", "reason": "",
            "segment": first_segment + k, "segment_start_s": round(chunk_starts[song] + frame * seconds_per_frame, 3),
            "padded": short, "valence": float(pred[0]), "arousal": float(pred[1]),
        })
    return rows


def _group_rows(file_name: str, decoded: Decoded, model: WindowedRegressor, batch_size: int, device: Any,
                first_segment: int) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The rows (without the file's mean) and window predictions of some consecutive chunks of one file."""
    _, spectrograms, _, valid = decoded
    predicted = predict_songs(model, spectrograms, np.arange(len(spectrograms)), np.asarray(valid), batch_size, device)
    rows = _rows(file_name, decoded, predicted.window_song, predicted.window_start, predicted.windows, model,
                 first_segment)
    return rows, predicted.windows


def _chunk_groups(deferred: Deferred, config: FeatureConfig) -> Iterator[Decoded]:
    """A long file's chunks, `STREAM_ABOVE_CHUNKS` at a time, as `decode_file` would give them all at once."""
    chunks = iter_windows(deferred.path, config, deferred.min_fraction)
    while group := list(islice(chunks, STREAM_ABOVE_CHUNKS)):
        yield ([c[0] for c in group], np.stack([c[1] for c in group]), [c[2] for c in group], [c[3] for c in group])
