"""Tiny audio files for tests, synthesised on the fly (no DEAM needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def tone(seconds: float, sample_rate: int = 22050, channels: int = 1, freq: float = 440.0,
         amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    wave = amplitude * np.sin(2 * np.pi * freq * t)
    return np.repeat(wave[:, None], channels, axis=1).astype(np.float32)


def write_audio(path: Path, samples: np.ndarray, sample_rate: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".mp3": "MP3", ".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}[path.suffix.lower()]
    sf.write(path, samples, sample_rate, format=fmt)
    return path


def write_truncated_mp3(path: Path, seconds: float = 3.0) -> Path:
    """A real mp3 with its second half cut off, as an interrupted download leaves it."""
    write_audio(path, tone(seconds, 44100, 2), 44100)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
