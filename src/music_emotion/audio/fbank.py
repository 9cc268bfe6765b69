"""The Audio Spectrogram Transformer's input: Kaldi-style log mel filter banks (Gong et al. 2021).

AST checkpoints were trained on features from `torchaudio.compliance.kaldi.fbank` (16 kHz, 25 ms Hann
frames every 10 ms, DC offset removed, pre-emphasis 0.97, 512-point FFT, 128 triangular mel filters from
20 Hz, natural log). transformers' `ASTFeatureExtractor` reproduces that in numpy one frame at a time; this
module computes the same numbers for a whole song in a few vectorised numpy calls (no torch: it runs on the
Dask extraction workers, which never import torch). `tests/test_fbank.py` checks both agree.

The features are stored unnormalised, as (n_mels, n_frames) like the log-mel spectrograms, so windows, crops
and song averaging are the ViT path's; the checkpoint's mean/std are applied inside the model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from music_emotion.config import from_section

KIND = "kaldi_fbank"
MEL_FLOOR = float(np.finfo(np.float32).eps)  # Kaldi's log floor (transformers: mel_floor=1.192092955078125e-07)


@dataclass(frozen=True)
class FbankConfig:
    """How a clip becomes AST features. `duration`/`offset` are the log-mel extraction's (same stored span)."""

    sample_rate: int
    n_mels: int
    frame_length_ms: float
    frame_shift_ms: float
    low_freq: float
    preemphasis: float
    resample_type: str
    duration: float
    offset: float
    kind: str = KIND

    @classmethod
    def from_params(cls, params: dict[str, Any], extraction: dict[str, Any]) -> FbankConfig:
        """`data_processing.ast_features` + the span (`duration`, `offset`) of `data_processing.extraction`."""
        config = from_section(cls, params, "data_processing.ast_features", "conf/base/parameters_data_processing.yml",
                              duration=float(extraction["duration"]), offset=float(extraction.get("offset", 0.0)))
        if config.kind != KIND:
            raise ValueError(f"data_processing.ast_features.kind can only be {KIND!r}; leave it out")
        if config.sample_rate <= 0 or config.n_mels <= 0 or config.frame_shift_ms <= 0:
            raise ValueError("data_processing.ast_features: sample_rate, n_mels and frame_shift_ms must be positive")
        if not 0 <= config.low_freq < config.sample_rate / 2:
            raise ValueError("data_processing.ast_features.low_freq must be in [0, sample_rate / 2)")
        return config

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def win_length(self) -> int:
        return int(round(self.sample_rate * self.frame_length_ms / 1000))

    @property
    def hop_length(self) -> int:
        return int(round(self.sample_rate * self.frame_shift_ms / 1000))

    @property
    def n_fft(self) -> int:
        """Kaldi rounds the frame up to a power of two (400 samples -> 512)."""
        return 1 << (self.win_length - 1).bit_length()

    @property
    def n_samples(self) -> int:
        return int(round(self.duration * self.sample_rate))

    @property
    def n_frames(self) -> int:
        """Kaldi frames (snip_edges): whole frames only, 1 + (n_samples - win) // hop."""
        return self.frames_for(self.duration)

    def frames_for(self, seconds: float | None) -> int:
        """Frames computed from `seconds` of real audio at the start of the span (at least one)."""
        samples = self.n_samples if seconds is None else min(self.n_samples, int(seconds * self.sample_rate))
        return max(1, 1 + (samples - self.win_length) // self.hop_length)

    def features(self, samples: np.ndarray) -> np.ndarray:
        return kaldi_fbank(samples, self)


def kaldi_mel_filters(config: FbankConfig) -> np.ndarray:
    """(n_fft // 2 + 1, n_mels) triangles, equally spaced on Kaldi's mel scale 1127 ln(1 + f / 700) from
    `low_freq` to Nyquist, evaluated at each FFT bin's mel value (the Nyquist bin gets weight 0, as in Kaldi)."""
    n_bins = config.n_fft // 2 + 1
    mel = lambda f: 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)  # noqa: E731
    edges = np.linspace(mel(config.low_freq), mel(config.sample_rate / 2), config.n_mels + 2)
    bin_mel = mel(np.arange(n_bins) * config.sample_rate / config.n_fft)[:, None]
    left, centre, right = edges[:-2][None, :], edges[1:-1][None, :], edges[2:][None, :]
    rising, falling = (bin_mel - left) / (centre - left), (right - bin_mel) / (right - centre)
    filters = np.maximum(0.0, np.minimum(rising, falling))
    filters[-1] = 0.0
    return filters


def kaldi_fbank(samples: np.ndarray, config: FbankConfig) -> np.ndarray:
    """Mono float samples at `config.sample_rate` -> (n_mels, n_frames) float32 log mel filter bank energies."""
    x = np.asarray(samples, dtype=np.float64)
    if len(x) < config.win_length:
        x = np.pad(x, (0, config.win_length - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, config.win_length)[:: config.hop_length]
    frames = frames - frames.mean(axis=1, keepdims=True)
    emphasised = np.empty_like(frames)
    emphasised[:, 1:] = frames[:, 1:] - config.preemphasis * frames[:, :-1]
    emphasised[:, 0] = frames[:, 0] * (1.0 - config.preemphasis)
    emphasised *= np.hanning(config.win_length)
    power = np.abs(np.fft.rfft(emphasised, n=config.n_fft, axis=1)) ** 2
    energies = np.maximum(power @ kaldi_mel_filters(config), MEL_FLOOR)
    return np.log(energies).T.astype(np.float32)
