"""The per-file functions that engine workers run: light to import on purpose.

A Dask worker unpickles a task's function by importing its module; these import only `audio` (numpy, and librosa
and soundfile when called), never torch, transformers or the pipelines, so a worker starts in a fraction of a
second instead of importing the whole project.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from music_emotion.audio.decoding import (
    ClipResult,
    FeatureConfig,
    audio_duration,
    extract_clip,
    iter_windows,
    skip_reason,
)

Decoded = tuple[list[float], np.ndarray, list[bool], list[int]]
# Files longer than this many stored spans (45 s each at the base settings: ~15 min) are not decoded whole by an
# in-process engine: their chunks are decoded and predicted a group at a time (`Deferred`), so a 10-hour
# recording needs the memory of one group, not of every chunk at once.
STREAM_ABOVE_CHUNKS = 20


@dataclass(frozen=True)
class Deferred:
    """A long file left for the predicting side to decode chunk group by chunk group (in-process engines only)."""

    path: str
    n_chunks: int
    min_fraction: float  # as decode_file was given it: which last partial chunk is kept


def extract_item(item: tuple[str, str], config: FeatureConfig) -> ClipResult:
    """`(key, path)` -> the clip's spectrogram (training extraction)."""
    return extract_clip(item[0], item[1], config)


def decode_file(path: str, config: FeatureConfig, min_fraction: float,
                stream_long_files: bool = False) -> Decoded | Deferred | str:
    """Every stored-span chunk of one file (start s, spectrograms, padded flags, real frames), or why it cannot
    be read (inference). Never raises: any error a file causes is its reason. With `stream_long_files` (the
    engine runs in this process), a file of more than `STREAM_ABOVE_CHUNKS` chunks comes back `Deferred`."""
    try:
        if stream_long_files:
            n_chunks = max(1, math.ceil(audio_duration(path) / config.duration))
            if n_chunks > STREAM_ABOVE_CHUNKS:
                return Deferred(str(path), n_chunks, min_fraction)
        chunks = list(iter_windows(path, config, min_fraction))
    except Exception as exc:  # noqa: BLE001 - one bad file never costs the run: it is reported with its reason
        return skip_reason(exc)
    return ([c[0] for c in chunks], np.stack([c[1] for c in chunks]), [c[2] for c in chunks], [c[3] for c in chunks])
