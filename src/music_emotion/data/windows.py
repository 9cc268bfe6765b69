"""Windows of a stored song spectrogram: random crops for training, every window for prediction.

A song is stored over a long span (`data_processing.extraction.duration`, e.g. DEAM's whole 45 s
clip); models see windows of their own length. Training draws one random crop per song per epoch
(seeded), and validation, test and inference all predict every window (`stride` apart, plus one
ending at the song's last real frame) and average them into one song-level prediction, so the
three share one code path. Windows stay inside a song's real audio (`valid_frames`); a song
shorter than one window gets a single window at its start, padded, and is flagged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from music_emotion.audio.log_mel import feature_config


def frames_for_seconds(seconds: float, extraction: dict[str, Any], parameter: str) -> int:
    """Spectrogram frames covering `seconds` with the extraction's sample rate and hop length."""
    if not extraction or "sample_rate" not in extraction or not {"hop_length", "frame_shift_ms"} & set(extraction):
        raise ValueError(f"{parameter}: the spectrograms record no extraction settings; re-run data_processing")
    config = feature_config(extraction)
    frames = int(round(float(seconds) * float(config.sample_rate) / float(config.hop_length)))
    if frames < 1:
        raise ValueError(f"{parameter} = {seconds} s is shorter than one spectrogram frame")
    return frames


def window_starts(valid_frames: int, window: int, stride: int) -> np.ndarray:
    """Start frames of every window of one song (see module docstring); never empty."""
    if window < 1 or stride < 1:
        raise ValueError(f"window ({window}) and stride ({stride}) must be at least one frame")
    last = int(valid_frames) - window
    if last <= 0:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, last + 1, stride, dtype=np.int64)
    if starts[-1] != last:  # cover the end of the song too
        starts = np.append(starts, last)
    return starts


def song_windows(valid_frames: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(song position, start frame) of every window of every song, songs in the given order."""
    per_song = [window_starts(v, window, stride) for v in valid_frames]
    positions = np.repeat(np.arange(len(per_song), dtype=np.int64), [len(s) for s in per_song])
    return positions, (np.concatenate(per_song) if per_song else np.zeros(0, dtype=np.int64))


def random_crop_starts(valid_frames: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
    """One uniformly drawn crop start per song inside its real audio (0 for songs shorter than a window)."""
    room = np.maximum(np.asarray(valid_frames, dtype=np.int64) - window, 0)
    return np.floor(rng.random(len(room)) * (room + 1)).astype(np.int64)


def average_by_song(window_predictions: np.ndarray, positions: np.ndarray, n_songs: int) -> np.ndarray:
    """Mean of each song's window predictions: (n_windows, k) -> (n_songs, k)."""
    counts = np.bincount(positions, minlength=n_songs).astype(np.float64)
    if (counts == 0).any():
        raise ValueError("a song has no window to average")
    sums = np.zeros((n_songs, window_predictions.shape[1]), dtype=np.float64)
    np.add.at(sums, positions, window_predictions.astype(np.float64))
    return (sums / counts[:, None]).astype(np.float32)


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
