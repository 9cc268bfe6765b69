"""Audio decoding and feature extraction: one code path for training, inference and benchmarks.

A feature config (`MelConfig` for the ViT's log-mel spectrograms, `fbank.FbankConfig` for the AST's Kaldi
filter banks) is stored with every feature set and every trained model, so that inference can never feed a
model mismatched input: `feature_config(model.config["extraction"])` rebuilds the one it was trained on.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from music_emotion.audio.decoder_messages import decoder_messages, skipped_data
from music_emotion.audio.fbank import KIND as FBANK_KIND
from music_emotion.audio.fbank import FbankConfig

logger = logging.getLogger(__name__)
SILENCE_PEAK = 1e-6  # full-scale amplitude below which a clip is treated as digital silence


@dataclass(frozen=True)
class MelConfig:
    """How a clip becomes a (n_mels, n_frames) dB spectrogram."""

    sample_rate: int = 22050
    duration: float = 30.0
    offset: float = 0.0
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None
    ref: str = "max"  # "max": dB relative to the clip's loudest bin (the seed's choice); "absolute": ref=1.0
    top_db: float | None = 80.0
    resample_type: str = "soxr_hq"
    kind: str = "log_mel"

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> MelConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known - {"n_jobs", "batch_size"})
        if unknown:
            raise ValueError(f"Unknown extraction parameter(s) {unknown}; known: {sorted(known)}")
        config = cls(**{k: v for k, v in params.items() if k in known})
        if config.ref not in ("max", "absolute"):
            raise ValueError(f"extraction.ref must be 'max' or 'absolute', got {config.ref!r}")
        if config.duration <= 0 or config.sample_rate <= 0 or config.hop_length <= 0:
            raise ValueError("extraction.duration, sample_rate and hop_length must be positive")
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


FeatureConfig = MelConfig | FbankConfig


def feature_config(extraction: dict[str, Any]) -> FeatureConfig:
    """The feature config a spectrogram set or model stored (`kind`; sets saved before AST existed are log-mel)."""
    kind = extraction.get("kind", "log_mel")
    if kind == FBANK_KIND:
        return FbankConfig(**extraction)
    if kind != "log_mel":
        raise ValueError(f"unknown feature kind {kind!r} in a stored extraction config (known: log_mel, {FBANK_KIND})")
    return MelConfig(**extraction)


class AudioDecodeError(Exception):
    """A file that cannot be decoded as audio; the message says why."""


def audio_duration(path: str | Path) -> float:
    """Duration in seconds from the file header (no decoding)."""
    import soundfile as sf

    if Path(path).stat().st_size == 0:
        raise AudioDecodeError("empty file (0 bytes)")
    with Path(path).open("rb") as handle:  # as in decode_audio: the OS's errors, any file name
        try:
            with decoder_messages(), sf.SoundFile(handle) as f:
                frames, rate = f.frames, f.samplerate
        except Exception as exc:  # noqa: BLE001 - libsndfile raises several types
            raise AudioDecodeError(_decode_reason(path, exc)) from exc
    return frames / rate if rate else 0.0


def decode_audio(
    path: str | Path, sample_rate: int, offset: float = 0.0, duration: float | None = None,
    resample_type: str = "soxr_hq",
) -> np.ndarray:
    """Decode [offset, offset + duration) of a file to mono float32 at `sample_rate` (`resample_type` as librosa).

    Reads only the frames needed (mp3 seeking via libsndfile), whatever the file's own rate
    and channel count. An offset past the end reads from the start instead. Non-finite samples are
    refused before resampling, which would otherwise spread them or fail deep inside the resampler.
    """
    import librosa
    import soundfile as sf

    path = Path(path)
    if path.stat().st_size == 0:
        raise AudioDecodeError("empty file (0 bytes)")
    # Opened here, not by name in libsndfile: the OS's own words for a file it cannot open (Permission denied,
    # not libsndfile's "System error."), and names that are not UTF-8, which libsndfile cannot be given.
    with path.open("rb") as handle:
        try:
            with decoder_messages() as messages, sf.SoundFile(handle) as f:
                native_rate = f.samplerate
                start = int(offset * native_rate)
                if f.frames and start >= f.frames:
                    start = 0
                if start:
                    f.seek(start)
                n_read = -1 if duration is None else int(math.ceil(duration * native_rate))
                samples = f.read(n_read, dtype="float32", always_2d=True)
        except AudioDecodeError:
            raise
        except Exception as exc:  # noqa: BLE001 - libsndfile raises several types
            raise AudioDecodeError(_decode_reason(path, exc)) from exc
    if skipped := skipped_data(messages):
        logger.warning("%s: the decoder skipped damaged data (%s); the rest of the file is used", path.name, skipped)
    if samples.size == 0:
        raise AudioDecodeError("no audio frames could be decoded")
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    if not np.all(np.isfinite(mono)):
        raise AudioDecodeError("decoded samples contain NaN or infinity")
    if native_rate != sample_rate:
        mono = librosa.resample(mono, orig_sr=native_rate, target_sr=sample_rate, res_type=resample_type)
    return np.ascontiguousarray(mono, dtype=np.float32)


def _decode_reason(path: str | Path, exc: Exception) -> str:
    """libsndfile's message without the path, and in plain words for files it does not recognise."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^Error opening .*?: (?=[A-Z])", "", text)
    if ("does not exist" in text or "Format not recognised" in text) and Path(path).is_file():
        text = "not a recognised audio format, or the file is corrupt"
    return f"unreadable audio: {text}"


def fit_to_window(samples: np.ndarray, n_samples: int) -> tuple[np.ndarray, bool]:
    """Crop or zero-pad to exactly `n_samples`; returns (window, was_padded)."""
    if len(samples) >= n_samples:
        return samples[:n_samples], False
    return np.pad(samples, (0, n_samples - len(samples))), True


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


@dataclass
class ClipResult:
    """The outcome of extracting one file: a spectrogram, or the reason there is none."""

    key: str
    spectrogram: np.ndarray | None
    status: str  # "ok" | "padded" | "skipped"
    reason: str
    audio_seconds: float | None = None
    silent: bool = False


def skip_reason(exc: Exception) -> str:
    """Why one file was skipped, in words: whatever a file makes the decoder or the features throw."""
    if isinstance(exc, AudioDecodeError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"cannot open file ({exc.strerror or exc})"
    return f"unexpected error on this file ({type(exc).__name__}: {exc})"


def extract_clip(key: str, path: str | Path, config: FeatureConfig) -> ClipResult:
    """One file -> one window -> one spectrogram; any problem with the file becomes a skipped result, not a crash."""
    try:
        return _extract_clip(key, path, config)
    except Exception as exc:  # noqa: BLE001 - one bad file never costs the run: it is reported with its reason
        return ClipResult(key, None, "skipped", skip_reason(exc))


def _extract_clip(key: str, path: str | Path, config: FeatureConfig) -> ClipResult:
    samples = decode_audio(path, config.sample_rate, config.offset, config.duration, config.resample_type)
    seconds = len(samples) / config.sample_rate
    window, padded = fit_to_window(samples, config.n_samples)
    spectrogram = config.features(window)
    silent = bool(np.max(np.abs(window), initial=0.0) < SILENCE_PEAK)
    reasons = []
    if padded:
        reasons.append(f"padded: {seconds:.2f} s of audio for a {config.duration:g} s window")
    if silent:
        reasons.append("silent clip: filled with the feature floor")
    return ClipResult(key, spectrogram, "padded" if padded else "ok", "; ".join(reasons), seconds, silent)


def iter_windows(
    path: str | Path, config: FeatureConfig, min_fraction: float = 0.5
) -> Iterator[tuple[float, np.ndarray, bool, int]]:
    """Consecutive stored-span chunks of a whole file as (start_seconds, spectrogram, padded, valid_frames).

    The last partial chunk is kept when it holds at least `min_fraction` of a chunk (or when it is the only
    one), padded exactly as in training; `valid_frames` says how many of its frames are real audio. Chunks are
    decoded one by one (the file's length comes from its header), so memory does not grow with the file.
    """
    n = config.n_samples
    n_chunks = max(1, math.ceil(audio_duration(path) / config.duration))
    for i in range(n_chunks):  # one stored span decoded at a time: a 20-minute file never sits in memory whole
        start_s = i * config.duration
        chunk = decode_audio(path, config.sample_rate, start_s, config.duration, config.resample_type)
        if i > 0 and len(chunk) < min_fraction * n:
            break
        window, padded = fit_to_window(chunk, n)
        valid = config.frames_for(len(chunk) / config.sample_rate)
        yield start_s, config.features(window), padded, valid
