"""One audio file -> its model windows' valence/arousal rows: the per-file work of inference.

`decode_file` runs wherever the engine puts it (a Dask worker or this process) and returns the file's stored-span
chunks as log-mel spectrograms, or why it cannot be read; `window_rows` applies the model to them on the client,
with the same `predict_songs` code path as validation and test songs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from music_emotion.audio import MelConfig, iter_windows, skip_reason
from music_emotion.engine import EngineFailure
from music_emotion.models.song_prediction import predict_songs
from music_emotion.models.vit_regression import ViTForEmotionRegression

WINDOW_COLUMNS = ["file", "status", "reason", "segment", "segment_start_s", "padded", "valence", "arousal",
                  "file_valence", "file_arousal", "model"]

Decoded = tuple[list[float], np.ndarray, list[bool], list[int]]


def model_mel_config(model: ViTForEmotionRegression) -> MelConfig:
    """The extraction settings the model was trained with, from its own config."""
    extraction = model.config.get("extraction") or {}
    if not extraction:
        raise ValueError(
            "The loaded vit_model stores no extraction settings, so its input cannot be reproduced; "
            "retrain it with `kedro run --pipelines vit_training`"
        )
    return MelConfig(**extraction)


def decode_file(path: str, config: MelConfig, min_fraction: float) -> Decoded | str:
    """Every stored-span chunk of one file (start s, spectrograms, padded flags, real frames), or why it cannot
    be read. Never raises: any error a file causes is its reason."""
    try:
        chunks = list(iter_windows(path, config, min_fraction))
    except Exception as exc:  # noqa: BLE001 - one bad file never costs the run: it is reported with its reason
        return skip_reason(exc)
    return ([c[0] for c in chunks], np.stack([c[1] for c in chunks]), [c[2] for c in chunks], [c[3] for c in chunks])


def window_rows(file_name: str, decoded: Decoded | str | EngineFailure, model: ViTForEmotionRegression,
                batch_size: int, device: Any) -> list[dict[str, Any]]:
    """One row per model window of the file (with the file's mean), or one `skipped` row with the reason."""
    if isinstance(decoded, EngineFailure):
        decoded = decoded.reason
    if isinstance(decoded, str):
        return [{"file": file_name, "status": "skipped", "reason": decoded}]
    config = MelConfig(**model.config["extraction"])
    seconds_per_frame = config.hop_length / config.sample_rate
    chunk_starts, spectrograms, padded, valid = decoded
    predicted = predict_songs(model, spectrograms, np.arange(len(spectrograms)), np.asarray(valid), batch_size, device)
    file_mean = predicted.windows.mean(axis=0)
    rows = []
    for k, (song, frame, pred) in enumerate(zip(predicted.window_song, predicted.window_start, predicted.windows,
                                                strict=True)):
        short = bool(padded[song]) and valid[song] < model.window_frames
        rows.append({
            "file": file_name, "status": "padded" if short else "ok", "reason": "",
            "segment": k, "segment_start_s": round(chunk_starts[song] + frame * seconds_per_frame, 3),
            "padded": short, "valence": float(pred[0]), "arousal": float(pred[1]),
            "file_valence": float(file_mean[0]), "file_arousal": float(file_mean[1]),
        })
    return rows
