"""Fixed, documented summary features of log-mel spectrograms.

`pooled_mel_statistics` = per-mel-band mean and standard deviation over time (2 x n_mels
values per spectrogram). Used by the ridge baseline and by the GAN quality figures, so the
two speak about the same feature space.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def pooled_mel_statistics(values: np.ndarray, rows: np.ndarray | None = None, batch_size: int = 32) -> np.ndarray:
    """(n, n_mels, n_frames) dB -> (n, 2 * n_mels) float64: [band means..., band stds...].

    `rows` (optional) picks and orders the spectrograms. Works a block of rows at a time, reading
    them in sorted order and accumulating in float64 without a float64 copy, so a memory-mapped
    input is never read whole (a block of 32 default-size spectrograms is ~40 MB of temporaries).
    """
    if values.ndim != 3:
        raise ValueError(f"expected (n, n_mels, n_frames) spectrograms, got shape {values.shape}")
    n_mels = values.shape[1]
    rows = np.arange(len(values)) if rows is None else np.asarray(rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    out = np.empty((len(rows), 2 * n_mels), dtype=np.float64)
    for start in range(0, len(rows), batch_size):
        take = order[start : start + batch_size]
        block = np.asarray(values[rows[take]])
        out[take, :n_mels] = block.mean(axis=2, dtype=np.float64)
        out[take, n_mels:] = block.std(axis=2, dtype=np.float64)
    return out


def window_features(
    values: np.ndarray, rows: np.ndarray, valid_frames: np.ndarray, window: int, stride: int, block: int = 32,
    feature: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`feature` (default `pooled_mel_statistics`) of every window (`window` frames, `stride` apart) of each song
    in `rows`.

    Returns (features (n_windows, dim), song position of each window), so features of real songs compare like for
    like with GAN samples, which are windows too. Songs are read a block at a time.
    """
    import torch

    from music_emotion.data.windows import cut_windows, song_windows

    feature = feature or pooled_mel_statistics
    rows = np.asarray(rows, dtype=np.int64)
    positions, starts = song_windows(np.asarray(valid_frames), window, stride)
    out: np.ndarray | None = None
    for begin in range(0, len(rows), block):
        songs = np.arange(begin, min(begin + block, len(rows)))
        chunk = torch.from_numpy(np.asarray(values[rows[songs]], dtype=np.float32))
        mine = np.flatnonzero((positions >= songs[0]) & (positions <= songs[-1]))
        windows = cut_windows(chunk, torch.from_numpy(positions[mine] - songs[0]), torch.from_numpy(starts[mine]),
                              window)
        computed = feature(windows.numpy())
        if out is None:
            out = np.empty((len(starts), computed.shape[1]), dtype=np.float64)
        out[mine] = computed
    if out is None:  # no song: as many columns as the feature gives a window
        out = np.empty((0, feature(np.zeros((1, values.shape[1], window), dtype=np.float32)).shape[1]))
    return out, positions
