"""The one check every table read from disk gets: the columns a step needs, named with the fix."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def require_columns(table: pd.DataFrame, columns: Iterable[str], name: str, fix: str) -> None:
    """Refuse `table` (called `name` in the message) when it lacks any of `columns`, saying what it has and `fix`."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"'{name}' lacks column(s) {missing} (it has {list(table.columns)}); {fix}")


def rerun(pipeline: str) -> str:
    """The usual fix for a table that lacks columns: it is older than the code that reads it."""
    return f"re-run the `{pipeline}` pipeline that writes it"
