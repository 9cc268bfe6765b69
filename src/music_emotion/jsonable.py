"""Values to JSON: NumPy scalars and arrays as plain Python, and NaN/inf as null.

One place for what lineage fingerprints, spectrogram sidecars, the report archive and the GAN quality report
each needed, so that the same value is always written the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np


def json_default(value: Any, fallback: Callable[[Any], Any] | None = None) -> Any:
    """`json.dumps(default=...)`: a NumPy scalar becomes its Python value, an array a list; anything else goes to
    `fallback` (lineage hashes use `str`) or is refused with its type named."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if fallback is not None:
        return fallback(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_safe(value: Any) -> Any:
    """A nested value whose NaN/inf floats become None, so the JSON stays valid (strict parsers refuse NaN)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def canonical_json(value: Any, fallback: Callable[[Any], Any] | None = None) -> str:
    """One spelling of a value (sorted keys, no spaces) for hashing and comparing: lineage fingerprints and the
    experiment's record keys."""
    return json.dumps(value, sort_keys=True, default=partial(json_default, fallback=fallback), separators=(",", ":"))
