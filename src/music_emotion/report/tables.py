"""Numbers as a reader sees them: fixed decimals with CIs, and markdown tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


# -------------------------------------------------------------------------------------- tables
def format_number(value: Any, decimals: int, small_as_scientific: bool = True) -> str:
    """Fixed decimals; huge values, and tiny non-zero ones unless told otherwise, in scientific notation."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    value = float(value)
    tiny = abs(value) < 10 ** (-decimals)
    if value != 0 and (abs(value) >= 10 ** (decimals + 2) or (tiny and small_as_scientific)):
        return f"{value:.{decimals}g}"
    if tiny:
        value = 0.0  # rounding noise such as -3e-33 reads as 0.000, not -0.000
    return f"{value:.{decimals}f}"


def format_with_ci(value: Any, low: Any, high: Any, decimals: int = 3, small_as_scientific: bool = True) -> str:
    """`0.512 [0.401, 0.603]`; the interval is left out when it is unknown."""
    point = format_number(value, decimals, small_as_scientific)
    if low is None or high is None:
        return point
    low_text = format_number(low, decimals, small_as_scientific)
    high_text = format_number(high, decimals, small_as_scientific)
    return f"{point} [{low_text}, {high_text}]"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
