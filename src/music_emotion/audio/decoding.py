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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from music_emotion.audio.decoder_messages import decoder_messages, skipped_data
from music_emotion.audio.log_mel import SILENCE_PEAK, FeatureConfig

logger = logging.getLogger(__name__)


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


def checked_features(config: FeatureConfig, window: np.ndarray) -> np.ndarray:
    """`config.features(window)`, refused when not every value is finite: a file whose samples are finite but far
    beyond full scale (a float WAV of amplitude 1e29) overflows the power spectrum, and NaN features would
    become NaN predictions passed off as results."""
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below, and named per file
        features = config.features(window)
    if not np.all(np.isfinite(features)):
        peak = float(np.max(np.abs(window), initial=0.0))
        raise AudioDecodeError(f"its samples (peak amplitude {peak:.3g}; full scale is 1) overflow the "
                               f"{config.kind} features to NaN or infinity; rescale the audio")
    return features


def fit_to_window(samples: np.ndarray, n_samples: int) -> tuple[np.ndarray, bool]:
    """Crop or zero-pad to exactly `n_samples`; returns (window, was_padded)."""
    if len(samples) >= n_samples:
        return samples[:n_samples], False
    return np.pad(samples, (0, n_samples - len(samples))), True


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
    spectrogram = checked_features(config, window)
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
        yield start_s, checked_features(config, window), padded, valid
