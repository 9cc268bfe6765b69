"""Hash the newest version of every output of a run, so two runs (before and after a refactor) can be compared.

    python benchmarks/demo_output_hashes.py data/demo > after.txt ; diff before.txt after.txt

Wall-clock columns (`seconds`) and run identities (lineage, save versions) differ between any two runs by nature,
so they are left out; everything else — models, predictions, metrics, figures, features — is hashed as stored.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import pandas as pd

VOLATILE_COLUMNS = {"seconds", "train_windows_per_s"}  # wall-clock columns
VOLATILE_KEYS = {"lineage", "run", "created", "saved_at", "save_version"}


def newest_versions(root: Path) -> dict[str, Path]:
    """{dataset path relative to root: the folder of its newest version} (versions are timestamped folders)."""
    found: dict[str, Path] = {}
    for version in sorted(root.rglob("*Z")):
        if version.is_dir() and version.name[:2] == "20" and "01_raw" not in version.parts:
            found[str(version.parent.relative_to(root))] = version
    return found


def _without_volatile(value):
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def file_hash(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".csv":
        table = pd.read_csv(io.BytesIO(data))
        data = table.drop(columns=[c for c in table.columns if c in VOLATILE_COLUMNS]).to_csv(index=False).encode()
    elif path.suffix == ".json":
        data = json.dumps(_without_volatile(json.loads(data)), sort_keys=True).encode()
    elif path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            data = "\n".join(sorted(archive.namelist())).encode()
    return hashlib.sha256(data).hexdigest()[:16]


def main(root: str) -> None:
    for name, version in sorted(newest_versions(Path(root)).items()):
        for file in sorted(p for p in version.rglob("*") if p.is_file()):
            print(f"{file_hash(file)}  {name}/{file.relative_to(version)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/demo")
