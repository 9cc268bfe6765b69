"""A music library as work: which files, which are already predicted, in which run folder, in which batches.

Resume key: relative path + size + modification time (ns). Reading every file to hash it would cost as much as
decoding it (hours for a large library); path + size + mtime is what rsync and make rely on, and a file that is
re-encoded or re-tagged changes size or mtime, so it is predicted again.

Results of one input folder + one model go to one run folder `<started>_<identity>` of the partitioned output
(`identity` = hash of the folder's absolute path and the model's fingerprint). A re-run with `resume` continues
the newest run folder with the same identity; `resume: false` (or another model or folder) starts a new one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from music_emotion.audio.listing import relative_name
from music_emotion.study.lineage import fingerprint

KEY_COLUMNS = ["file", "size", "mtime_ns"]


@dataclass(frozen=True)
class LibraryFile:
    name: str          # relative to the input folder: what every output shows
    path: str          # absolute, for decoding
    size: int | None
    mtime_ns: int | None
    problem: str = ""  # why it cannot even be opened (vanished, a directory named like audio, a dangling link)

    @property
    def key(self) -> tuple[str, int | None, int | None]:
        return self.name, self.size, self.mtime_ns


def library_files(audio_files: Mapping[str, str]) -> list[LibraryFile]:
    """Every listed file with its size and mtime, plus what the listing found but cannot be read."""
    files = []
    for absolute in audio_files.values():
        name = relative_name(audio_files, absolute)
        try:
            stat = os.stat(absolute)
        except OSError as exc:
            files.append(LibraryFile(name, absolute, None, None, f"cannot open file ({exc.strerror or exc})"))
            continue
        files.append(LibraryFile(name, absolute, stat.st_size, stat.st_mtime_ns))
    for name, reason in sorted(getattr(audio_files, "problems", {}).items()):
        files.append(LibraryFile(name, "", None, None, reason))
    return files


def run_identity(audio_files: Mapping[str, str], model: Any) -> str:
    root = str(Path(getattr(audio_files, "root", "")).absolute())
    return hashlib.sha256(f"{root}\n{fingerprint(model)}".encode()).hexdigest()[:10]


def choose_run_folder(done: Mapping[str, Callable[[], pd.DataFrame]], identity: str, resume: bool,
                      started: str) -> str:
    """The newest existing run folder of this identity when resuming, else a new one started now."""
    if resume:
        mine = sorted({key.split("/", 1)[0] for key in done if key.split("/", 1)[0].endswith("_" + identity)})
        if mine:
            return mine[-1]
    return f"{started}_{identity}"


def already_predicted(done: Mapping[str, Callable[[], pd.DataFrame]], run_folder: str) -> tuple[set, int]:
    """(resume keys of the files in the run folder's readable parts, the next part number)."""
    keys: set = set()
    numbers = [0]
    for key, load in done.items():
        folder, _, part = key.partition("/")
        if folder != run_folder:
            continue
        numbers.append(int(part.rsplit("-", 1)[-1]))
        table = load()
        keys.update(zip(table["file"], table["size"].astype("Int64"), table["mtime_ns"].astype("Int64"), strict=True))
    return {(f, None if pd.isna(s) else int(s), None if pd.isna(m) else int(m)) for f, s, m in keys}, max(numbers) + 1


def batches(files: list[LibraryFile], size: int) -> list[list[LibraryFile]]:
    return [files[start : start + size] for start in range(0, len(files), size)]


def part_name(run_folder: str, number: int) -> str:
    return f"{run_folder}/part-{number:06d}"
