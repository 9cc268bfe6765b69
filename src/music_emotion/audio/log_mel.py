"""How a clip becomes a (n_mels, n_frames) dB spectrogram: the typed `data_processing.extraction` section and the
librosa transform, and which feature config a stored spectrogram set or model was made with."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, Literal

import numpy as np

from music_emotion.audio.fbank import KIND as FBANK_KIND
from music_emotion.audio.fbank import FbankConfig
from music_emotion.audio.waveform import KIND as WAVEFORM_KIND
from music_emotion.audio.waveform import WaveformConfig
from music_emotion.config import from_section

SILENCE_PEAK = 1e-6  # full-scale amplitude below which a clip is treated as digital silence


@dataclass(frozen=True)
class MelConfig:
    """How a clip becomes a (n_mels, n_frames) dB spectrogram; every value from `data_processing.extraction`."""

    sample_rate: int
    duration: float
    offset: float
    n_fft: int
    hop_length: int
    n_mels: int
    fmin: float
    fmax: float | None
    # "max": dB relative to the clip's loudest bin (the Kaggle reference recipe's choice)
    ref: Literal["max", "absolute"]
    top_db: float | None
    resample_type: str
    kind: str = "log_mel"  # a tag stored with every spectrogram set and model, not a setting

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> MelConfig:
        config = from_section(cls, params, "data_processing.extraction", "conf/base/parameters_data_processing.yml")
        if config.duration <= 0 or config.sample_rate <= 0 or config.hop_length <= 0:
            raise ValueError("data_processing.extraction.duration, sample_rate and hop_length must be positive")
        return config

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def n_samples(self) -> int:
        return int(round(self.duration * self.sample_rate))

    @property
    def n_frames(self) -> int:
        """Frames of a centred STFT over exactly one window: 1 + n_samples // hop (1292 by default)."""
        return 1 + self.n_samples // self.hop_length

    def frames_for(self, seconds: float | None) -> int:
        """Frames that hold real audio when `seconds` of it fill the window from the start (the rest is padding)."""
        if seconds is None:
            return self.n_frames
        return int(min(self.n_frames, max(1, 1 + int(seconds * self.sample_rate) // self.hop_length)))

    @property
    def floor_db(self) -> float:
        """Value used for silence: the bottom of the dB range."""
        return -float(self.top_db) if self.top_db is not None else -100.0

    def features(self, samples: np.ndarray) -> np.ndarray:
        return log_mel(samples, self)


FeatureConfig = MelConfig | FbankConfig | WaveformConfig


def feature_config(extraction: dict[str, Any]) -> FeatureConfig:
    """The feature config a spectrogram set or model stored (`kind`; sets saved before AST existed are log-mel)."""
    kind = extraction.get("kind", "log_mel")
    if kind == FBANK_KIND:
        return FbankConfig(**extraction)
    if kind == WAVEFORM_KIND:  # a frozen encoder's input: the samples themselves
        return WaveformConfig(**extraction)
    if kind != "log_mel":
        raise ValueError(f"unknown feature kind {kind!r} in a stored extraction config (known: log_mel, {FBANK_KIND}, "
                         f"{WAVEFORM_KIND})")
    missing = sorted({f.name for f in fields(MelConfig) if f.default is MISSING} - set(extraction))
    if missing:
        raise ValueError(f"a stored log-mel extraction config lacks {missing}: it was saved by an older release; "
                         "re-run `kedro run --pipelines data_processing` (and the pipelines after it)")
    return MelConfig(**extraction)


def log_mel(samples: np.ndarray, config: MelConfig) -> np.ndarray:
    """Power mel spectrogram in dB, (n_mels, n_frames), float32, finite even for silence."""
    import librosa

    if float(np.max(np.abs(samples), initial=0.0)) < SILENCE_PEAK:
        return np.full((config.n_mels, 1 + len(samples) // config.hop_length), config.floor_db, dtype=np.float32)
    power = librosa.feature.melspectrogram(
        y=samples,
        sr=config.sample_rate,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        n_mels=config.n_mels,
        fmin=config.fmin,
        fmax=config.fmax,
        power=2.0,
    )
    ref = np.max if config.ref == "max" else 1.0
    db = librosa.power_to_db(power, ref=ref, top_db=config.top_db)
    if config.top_db is None:
        db = np.maximum(db, config.floor_db)
    return db.astype(np.float32, copy=False)
