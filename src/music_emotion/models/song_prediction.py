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

from music_emotion.runtime import autocast
from music_emotion.windows import average_by_song, song_windows


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


def cut_windows(block: torch.Tensor, index: torch.Tensor, starts: torch.Tensor, window: int) -> torch.Tensor:
    """(n, H, W) spectrograms -> (B, H, window): window b = block[index[b], :, starts[b]:starts[b]+window].

    Frames past the end (a song shorter than one window) take the block's lowest value (the dB floor).
    """
    width = block.shape[-1]
    if width < window:
        block = torch.nn.functional.pad(block, (0, window - width), value=float(block.min()))
    frames = starts.to(block.device)[:, None] + torch.arange(window, device=block.device)[None, :]
    frames = frames.clamp_(max=block.shape[-1] - 1)
    rows = block[index.to(block.device)]  # (B, H, W)
    return torch.gather(rows, 2, frames[:, None, :].expand(-1, rows.shape[1], -1))


def read_crops(array: np.ndarray, rows: np.ndarray, starts: np.ndarray, window: int) -> torch.Tensor:
    """(B, H, window) crops `array[rows[b], :, starts[b]:starts[b] + window]` read straight from a (memory-mapped)
    array: only the crop's frames are read, not the whole stored song (a 10 s crop of a 45 s song is under a
    quarter of it). Pass `rows` ascending for sequential reads. Stored songs shorter than a window are padded
    as `cut_windows` pads them."""
    if array.shape[-1] < window:
        block = torch.from_numpy(np.asarray(array[rows], dtype=np.float32))
        return cut_windows(block, torch.arange(len(rows)), torch.from_numpy(starts), window)
    out = np.empty((len(rows), array.shape[1], window), dtype=np.float32)
    for i, (row, start) in enumerate(zip(rows, starts, strict=True)):
        out[i] = array[row, :, start : start + window]
    return torch.from_numpy(out)
