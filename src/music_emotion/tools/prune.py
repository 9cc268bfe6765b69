"""List, and on request delete, old versions of versioned catalog outputs; the newest is never deleted.

Every run adds a timestamped version folder next to each output (`data/<layer>/<name>/<timestamp>/…`), so
disk use grows with every run. `python -m music_emotion.tools.prune --keep 3` lists what would go (all but the 3
newest versions of every dataset, at least 1 kept) with its size; add `--delete` to delete it.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$")


def versioned_datasets(root: Path) -> dict[Path, list[Path]]:
    """{dataset folder: its version folders, oldest first} for every folder under `root` that holds versions."""
    found: dict[Path, list[Path]] = {}
    for folder in sorted(p for p in root.rglob("*") if p.is_dir() and VERSION.match(p.name)):
        found.setdefault(folder.parent, []).append(folder)
    return {dataset: sorted(versions, key=lambda p: p.name) for dataset, versions in found.items()}


def old_versions(root: Path, keep: int) -> list[Path]:
    """Version folders beyond the `keep` newest of each dataset (`keep` is at least 1)."""
    keep = max(1, int(keep))
    return [v for versions in versioned_datasets(root).values() for v in versions[:-keep]]


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("data"), help="the data folder (default: data)")
    parser.add_argument("--keep", type=int, default=3, help="newest versions kept per dataset (at least 1)")
    parser.add_argument("--delete", action="store_true", help="delete them (default: only list)")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        parser.error(f"{args.root} is not a folder; run from the project root or pass --root")
    doomed = old_versions(args.root, args.keep)
    total = 0
    for version in doomed:
        size = _size(version)
        total += size
        print(f"{'deleting' if args.delete else 'would delete'} {version} ({size / 1e6:.1f} MB)")
        if args.delete:
            shutil.rmtree(version)
    print(f"{len(doomed)} old version(s), {total / 1e6:.1f} MB{'' if args.delete else ' (list only: add --delete)'}")
    return doomed


if __name__ == "__main__":
    main()
