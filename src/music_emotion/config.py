"""Typed, frozen parameter sections built once from conf: every key required, none unknown.

Defaults live in conf/base only; a section with a missing or misspelt key is an error that names both lists
and the file that holds every key, instead of a silent fallback in code.
"""

from __future__ import annotations

import types
from dataclasses import MISSING, fields
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

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
    for name, allowed in _literal_fields(cls).items():
        if name in params and params[name] not in allowed:
            raise ValueError(f"{section}.{name} must be one of {list(allowed)}, got {params[name]!r} (see {conf_file})")
    return cls(**params, **given)


def _literal_fields(cls: type) -> dict[str, tuple[Any, ...]]:
    """The values each `Literal[...]` field (or `Literal[...] | None`) of a dataclass may take."""
    allowed = {}
    for name, hint in get_type_hints(cls).items():
        options = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
        literals = [o for o in options if get_origin(o) is Literal]
        if literals:
            allowed[name] = tuple(v for lit in literals for v in get_args(lit)) + \
                ((None,) if type(None) in options else ())
    return allowed
