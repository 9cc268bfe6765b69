"""Which outputs belong together: content fingerprints recorded by producers and checked by consumers.

Every catalog input loads its own latest version, so after an interrupted run the latest model can be one that
was never tested while `test_metrics` is from an earlier run. Producers therefore record the fingerprint of what
they consumed (`test_metrics` names the model and split it scored; the synthetic set names its generator;
`gan_quality` names the synthetic set), and `reporting` refuses to combine outputs whose records disagree.
A fingerprint is a hash of content, not a timestamp: the same seed on the same machine gives the same
fingerprint, so determinism is kept and a re-run of one pipeline is recognised as compatible when it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import pandas as pd
import torch
from torch import nn

from music_emotion.jsonable import canonical_json
from music_emotion.models.base import update_with_weights

LENGTH = 12  # hex digits shown to people; 48 bits is plenty to tell a handful of runs apart


class LineageError(ValueError):
    """Outputs from different runs were about to be combined."""


def fingerprint(artefact: Any) -> str:
    """A short content hash of a model (config + weights), a table, a spectrogram set's identity or a JSON value."""
    digest = hashlib.sha256()
    if isinstance(artefact, nn.Module):
        digest.update(_canonical(getattr(artefact, "config", {})).encode())
        update_with_weights(digest, artefact, torch.float32)
    elif isinstance(artefact, pd.DataFrame):
        update_with_table(digest, artefact)
    elif hasattr(artefact, "ids") and hasattr(artefact, "meta"):  # a SpectrogramSet: who and how, not 1 GB of floats
        update_with_identity(digest, artefact)
    else:
        digest.update(_canonical(artefact).encode())
    return digest.hexdigest()[:LENGTH]


def update_with_table(digest: Any, frame: pd.DataFrame) -> None:
    """Feed a table's values and column names to a hashlib digest."""
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update(_canonical(list(frame.columns)).encode())


def update_with_identity(digest: Any, spectrograms: Any) -> None:
    """Feed a spectrogram set's ids, meta and shape (not its values) to a hashlib digest."""
    digest.update(_canonical({"ids": list(spectrograms.ids), "meta": spectrograms.meta,
                              "shape": list(spectrograms.values.shape)}).encode())


def _canonical(value: Any) -> str:
    return canonical_json(value, fallback=str)


def require_same(consumer: str, recorded_by: str, recorded: Mapping[str, str | None],
                 actual: Mapping[str, Any], fix: str) -> None:
    """Raise `LineageError` when an input's fingerprint differs from the one `recorded_by` recorded for it.

    `recorded` maps input name -> fingerprint recorded at production time (None: an output from before lineage
    was recorded, accepted with nothing to compare); `actual` maps the same names -> the loaded artefacts.
    """
    mismatches = []
    for name, expected in recorded.items():
        if expected is None or name not in actual:
            continue
        found = fingerprint(actual[name])
        if found != expected:
            mismatches.append(f"  {name}: {recorded_by} was computed from {expected}, the loaded one is {found}")
    if mismatches:
        raise LineageError(
            f"{consumer}: its inputs come from different runs, so the result would mix them:\n"
            + "\n".join(mismatches)
            + f"\n(This happens after an interrupted run: each input loads its own latest version.) {fix}"
        )
