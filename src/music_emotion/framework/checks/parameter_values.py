"""Parameters checked before the first node: one line per bad value, naming the key and what it accepts.

Unchecked, `--params learning_rate=abc`, `batch_size=0` or `seed=-5` would surface as a deep traceback, some only
after extraction has written its outputs, and `files_per_batch=-1` would silently do nothing. The rules go by key
name, so they hold in every section that has such a key; only the sections the run's nodes read are checked.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

# Keys that count things: a whole number >= 1 (null where conf allows it, e.g. `steps: null`).
COUNTS = {"batch_size", "files_per_batch", "epochs", "steps", "eval_every_steps", "n_synthetic", "n_samples",
          "n_resamples", "n_folds", "n_seeds", "max_labels", "n_layers", "n_upsample"}
# Keys that are rates or sizes that must be positive numbers.
POSITIVE = {"learning_rate", "generator_lr", "discriminator_lr", "window_seconds", "window_stride_seconds",
            "duration", "sample_rate", "hop_length", "n_fft", "connect_timeout_s", "server_timeout_s"}
NON_NEGATIVE = {"seed", "weight_decay", "min_audio_seconds", "offset"}
# Keys that must be whole numbers (a seed of 1.5 would otherwise run as seed 1).
WHOLE = {"seed"}
# Keys that must be finite numbers (a rating bound of inf turns every label into NaN).
FINITE = {"rating_min", "rating_max"}
NON_EMPTY_TEXT = {"input_dir", "model"}


def parameter_problems(params: dict[str, Any], sections: set[str]) -> list[str]:
    """Every bad value under the dotted `sections` (e.g. {"seed", "training", "inference"})."""
    problems = []
    for section in sorted(sections):
        value: Any = params
        for key in section.split("."):
            if not isinstance(value, dict) or key not in value:
                value = None
                break
            value = value[key]
        for dotted, leaf in _leaves(section, value):
            if problem := _check(dotted.rsplit(".", 1)[-1], leaf):
                problems.append(f"{dotted} = {leaf!r}: {problem}")
        problems += _range_problems(section, value)
    return sorted(set(problems))


def _range_problems(prefix: str, value: Any) -> list[str]:
    """A `rating_min` / `rating_max` pair anywhere under `prefix` must be an interval: `rating_max: 0` would turn
    DEAM's 1-9 ratings into labels far outside [-1, 1] and every `scale="deam"` prediction with them."""
    if not isinstance(value, dict):
        return []
    problems = [p for key, child in value.items() for p in _range_problems(f"{prefix}.{key}", child)]
    low, high = value.get("rating_min"), value.get("rating_max")
    if _number(low) and _number(high) and not low < high:
        problems.append(f"{prefix}.rating_min = {low!r}, rating_max = {high!r}: rating_min must be below rating_max "
                        "(DEAM: 1 and 9)")
    return problems


def _leaves(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _leaves(f"{prefix}.{key}", child)
    else:
        yield prefix, value


def _check(key: str, value: Any) -> str:
    if key in COUNTS and value is not None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return "must be a whole number of at least 1"
    if key in POSITIVE and value is not None:
        if not _number(value) or value <= 0:
            return "must be a positive number"
    if key in NON_NEGATIVE and value is not None:
        if not _number(value) or value < 0:
            return "must be a number of at least 0"
    if key in WHOLE and value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        return "must be a whole number"
    if key in FINITE and not _number(value):
        return "must be a finite number"
    if key in NON_EMPTY_TEXT and isinstance(value, str) and not value.strip():
        return "is empty: give a value (e.g. a folder or an arm name)"
    return ""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
