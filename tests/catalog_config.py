"""The project's real catalog entries for a pipeline's outputs, for tests that re-root them in a tmp dir."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

CATALOG = Path(__file__).resolve().parents[1] / "conf" / "base" / "catalog.yml"


def _matches(pattern: str, name: str) -> bool:
    regex = re.sub(r"\\\{[^}]+\\\}", r"[^.]+", re.escape(pattern))
    return re.fullmatch(regex, name) is not None


def catalog_entries_for(pipeline, root: Path | None = None) -> dict[str, dict]:
    """Entries of conf/base/catalog.yml (dataset factories included) that `pipeline` writes.

    With `root`, every `filepath` is moved under it (`data/06_models/x` -> `<root>/06_models/x`).
    """
    entries = yaml.safe_load(CATALOG.read_text())
    outputs = pipeline.all_outputs()
    chosen = {name: entry for name, entry in entries.items() if any(_matches(name, out) for out in outputs)}
    if root is not None:
        for entry in chosen.values():
            entry["filepath"] = str(Path(root) / Path(entry["filepath"]).relative_to("data"))
    return chosen
