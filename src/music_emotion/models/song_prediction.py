"""Song-level prediction: every window of each song through the model, averaged per song.

Validation (every epoch), the test evaluation and inference on new audio all call
`predict_songs`, so what is scored is exactly what a user gets. Songs are read from the
(memory-mapped) array a block at a time in row order, their windows cut in memory and sent to the
device in batches; nothing reads the whole array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from music_emotion.data.windows import average_by_song, cut_windows, song_windows
from music_emotion.models.runtime import autocast


@dataclass(frozen=True)
class SongPredictions:
    songs: np.ndarray  # (n_songs, 2): mean over each song's windows
    window_song: np.ndarray  # (n_windows,): position of the window's song in the input order
    window_start: np.ndarray  # (n_windows,): start frame of each window
    windows: np.ndarray  # (n_windows, 2)


@torch.no_grad()
def predict_songs(
    model: nn.Module,
    values: np.ndarray,
    rows: np.ndarray,
    valid_frames: np.ndarray,
    batch_size: int,
    device: torch.device,
    mixed_precision: bool = True,
) -> SongPredictions:
    """Every window (`model.window_frames` long, `model.window_stride` apart) of `values[rows]`, averaged."""
    window, stride = model.window_frames, model.window_stride
    rows = np.asarray(rows, dtype=np.int64)
    positions, starts = song_windows(np.asarray(valid_frames), window, stride)
    out = np.empty((len(starts), 2), dtype=np.float32)
    model.to(device).eval()
    read_order = np.argsort(rows[positions], kind="stable")  # windows grouped by row, rows ascending
    for begin in range(0, len(read_order), batch_size):
        take = read_order[begin : begin + batch_size]
        song_rows = rows[positions[take]]
        unique_rows, inverse = np.unique(song_rows, return_inverse=True)
        block = np.asarray(values[unique_rows], dtype=np.float32)  # one read per batch
        batch = cut_windows(torch.from_numpy(block), torch.from_numpy(inverse), torch.from_numpy(starts[take]), window)
        with autocast(device, mixed_precision):
            out[take] = model.predict(batch.to(device)).float().cpu().numpy()
    return SongPredictions(average_by_song(out, positions, len(rows)), positions, starts, out)
