"""Fixed, documented summary features of log-mel spectrograms.

`pooled_mel_statistics` = per-mel-band mean and standard deviation over time (2 x n_mels
values per spectrogram). Used by the ridge baseline and by the GAN quality figures, so the
two speak about the same feature space.
"""

from __future__ import annotations

import numpy as np


def pooled_mel_statistics(values: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(n, n_mels, n_frames) dB -> (n, 2 * n_mels) float64: [band means..., band stds...].

    Works batch by batch so a memory-mapped input is never read into RAM whole.
    """
    if values.ndim != 3:
        raise ValueError(f"expected (n, n_mels, n_frames) spectrograms, got shape {values.shape}")
    n, n_mels, _ = values.shape
    out = np.empty((n, 2 * n_mels), dtype=np.float64)
    for start in range(0, n, batch_size):
        block = np.asarray(values[start : start + batch_size], dtype=np.float64)
        out[start : start + len(block), :n_mels] = block.mean(axis=2)
        out[start : start + len(block), n_mels:] = block.std(axis=2)
    return out
