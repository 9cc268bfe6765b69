"""Typed, frozen parameter sections built once from conf: every key required, none unknown.

Defaults live in conf/base only; a section with a missing or misspelt key is an error that names both lists
and the file that holds every key, instead of a silent fallback in code.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any, TypeVar

T = TypeVar("T")


def from_section(cls: type[T], params: dict[str, Any], section: str, conf_file: str, **given: Any) -> T:
    """`cls(**params, **given)` after checking that `params` has exactly the dataclass's fields, less those `given`
    by the caller (settings that come from another section); a field with a default in code (a `kind` tag) may be
    left out."""
    names = {f.name for f in fields(cls) if f.name not in given}
    required = {f.name for f in fields(cls) if f.name in names and f.default is MISSING}
    unknown, missing = sorted(set(params) - names), sorted(required - set(params))
    if unknown or missing:
        raise ValueError(
            f"{section}: unknown key(s) {unknown}, missing key(s) {missing} "
            f"(every key and its default is in {conf_file})"
        )
    return cls(**params, **given)
