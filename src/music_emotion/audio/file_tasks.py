"""The per-file functions that engine workers run: light to import on purpose.

A Dask worker unpickles a task's function by importing its module; these import only `audio` (numpy, and librosa
and soundfile when called), never torch, transformers or the pipelines, so a worker starts in a fraction of a
second instead of importing the whole project.
"""

from __future__ import annotations

import numpy as np

from music_emotion.audio.decoding import (
    ClipResult,
    FeatureConfig,
    extract_clip,
    iter_windows,
    skip_reason,
)

Decoded = tuple[list[float], np.ndarray, list[bool], list[int]]


def extract_item(item: tuple[str, str], config: FeatureConfig) -> ClipResult:
    """`(key, path)` -> the clip's spectrogram (training extraction)."""
    return extract_clip(item[0], item[1], config)


def decode_file(path: str, config: FeatureConfig, min_fraction: float) -> Decoded | str:
    """Every stored-span chunk of one file (start s, spectrograms, padded flags, real frames), or why it cannot
    be read (inference). Never raises: any error a file causes is its reason."""
    try:
        chunks = list(iter_windows(path, config, min_fraction))
    except Exception as exc:  # noqa: BLE001 - one bad file never costs the run: it is reported with its reason
        return skip_reason(exc)
    return ([c[0] for c in chunks], np.stack([c[1] for c in chunks]), [c[2] for c in chunks], [c[3] for c in chunks])
