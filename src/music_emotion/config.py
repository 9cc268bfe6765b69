"""Typed, frozen parameter sections built once from conf: every key required, none unknown.

Defaults live in conf/base only; a section with a missing or misspelt key is an error that names both lists
and the file that holds every key, instead of a silent fallback in code.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def from_section(cls: type[T], params: dict[str, Any], section: str, conf_file: str) -> T:
    """`cls(**params)` after checking that `params` has exactly the dataclass's fields."""
    names = {f.name for f in fields(cls)}
    unknown, missing = sorted(set(params) - names), sorted(names - set(params))
    if unknown or missing:
        raise ValueError(
            f"{section}: unknown key(s) {unknown}, missing key(s) {missing} "
            f"(every key and its default is in {conf_file})"
        )
    return cls(**params)
