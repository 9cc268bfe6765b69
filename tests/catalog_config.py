"""The project's real catalog entries for a pipeline's outputs, for tests that re-root them in a tmp dir."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

CATALOG = Path(__file__).resolve().parents[1] / "conf" / "base" / "catalog.yml"
DATA_ROOT = "${globals:data_root}"


def _matches(pattern: str, name: str) -> bool:
    regex = re.sub(r"\\\{[^}]+\\\}", r"[^.]+", re.escape(pattern))
    return re.fullmatch(regex, name) is not None


def catalog_entries_for(pipeline, root: Path | str = "data", also: tuple[str, ...] = ()) -> dict[str, dict]:
    """Entries of conf/base/catalog.yml (dataset factories included) that `pipeline` writes, plus those named
    in `also` (e.g. an input folder such as `experiment_unit_records`).

    `${globals:data_root}` in a `filepath` / `path` becomes `root` (default: base's `data`, as globals.yml sets).
    """
    entries = yaml.safe_load(CATALOG.read_text())
    outputs = pipeline.all_outputs() | set(also)
    chosen = {name: entry for name, entry in entries.items() if any(_matches(name, out) for out in outputs)}
    for entry in chosen.values():
        key = "filepath" if "filepath" in entry else "path"
        entry[key] = entry[key].replace(DATA_ROOT, str(root), 1)
    return chosen
