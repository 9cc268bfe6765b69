"""The stored span of a song as raw samples, for encoders that compute their own input features.

A frozen music encoder (CLAP) expects audio at its own sample rate and computes its own mel features; this
"feature" is therefore the waveform itself, decoded by the same code as the log-mel and AST features (same span,
same padding, same skip reasons), on the same engine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KIND = "waveform"


@dataclass(frozen=True)
class WaveformConfig:
    """`duration` seconds from `offset`, mono at `sample_rate`, zero-padded to the span (as one (1, n) row)."""

    sample_rate: int
    duration: float
    offset: float
    resample_type: str
    kind: str = KIND

    @property
    def n_mels(self) -> int:  # one row: the (rows, columns) shape every feature set shares
        return 1

    @property
    def hop_length(self) -> int:  # a frame is a sample
        return 1

    @property
    def n_samples(self) -> int:
        return int(round(self.duration * self.sample_rate))

    @property
    def n_frames(self) -> int:
        return self.n_samples

    def frames_for(self, seconds: float | None) -> int:
        """Samples of real audio in the span (at least one)."""
        if seconds is None:
            return self.n_samples
        return max(1, min(self.n_samples, int(round(seconds * self.sample_rate))))

    def features(self, window: np.ndarray) -> np.ndarray:
        return np.asarray(window, dtype=np.float32)[None, :]
