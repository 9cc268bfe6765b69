"""Many files -> one array of features (log-mel or AST fbank), on the project's engine (Dask or one process).

The extraction node and the benchmarks use this; per file it is `audio.extract_clip`, the same function whatever
runs it, so a local cluster, a team's scheduler and one process give the same spectrograms.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from music_emotion.audio.decoding import ClipResult, FeatureConfig
from music_emotion.audio.engine import EngineFailure, EngineParams, FileEngine
from music_emotion.audio.file_tasks import extract_item
from music_emotion.console import progress_bar

BATCH = 64  # files per batch: bounds the spectrograms in flight (64 x 1 MB at the base settings)


def clip_result(key: str, outcome: ClipResult | EngineFailure) -> ClipResult:
    """A file's outcome from the engine as a ClipResult: a task that failed (or whose worker died twice) is a
    skipped result with the reason."""
    if isinstance(outcome, EngineFailure):
        return ClipResult(key, None, "skipped", outcome.reason)
    return outcome


def extract_many(items: Sequence[tuple[str, str]], config: FeatureConfig,
                 engine: EngineParams) -> tuple[np.ndarray, list[ClipResult]]:
    """Extract `(key, path)` items into one preallocated array.

    Returns (the successful rows, in input order; one ClipResult per item with its spectrogram dropped).
    Memory: the output array plus two batches in flight. A file whose task fails (or whose worker dies twice)
    is a skipped result with the reason.
    """
    output = np.empty((len(items), config.n_mels, config.n_frames), dtype=np.float32)
    results: list[ClipResult] = []
    kept = 0
    batches = [list(items[start : start + BATCH]) for start in range(0, len(items), BATCH)]
    progress = progress_bar(total=len(items), desc=config.kind, unit="clip")
    with FileEngine(engine, len(items), config.duration) as running:
        for batch, batch_results in zip(batches, running.map_batches(extract_item, batches, config), strict=True):
            for (key, _), outcome in zip(batch, batch_results, strict=True):
                result = clip_result(key, outcome)
                if result.spectrogram is not None:
                    output[kept] = result.spectrogram
                    kept += 1
                    result.spectrogram = None
                results.append(result)
            progress.update(len(batch))
    progress.close()
    return output[:kept], results
