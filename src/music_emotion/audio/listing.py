"""A folder's audio files as the project names them: the listing (`{song key: absolute path}` with its folder) and
the file names every output shows (relative to the folder, never an absolute machine path; bytes that are not
UTF-8 and control characters escaped). Domain code, shared by the catalog's audio folders, the pipelines and the
command: it imports no Kedro.
"""

from __future__ import annotations

import os
from pathlib import Path


class AudioListing(dict):
    """`{song key: absolute path}` of one folder's audio files, with the folder itself as `root` and the
    entries named like audio that are no readable file as `problems` ({relative name: reason})."""

    def __init__(self, files: dict[str, str], root: str | Path, problems: dict[str, str] | None = None) -> None:
        super().__init__(files)
        self.root = str(root)
        self.problems = dict(problems or {})


def display_name(name: str) -> str:
    """A file name as every output shows it: bytes that are not UTF-8 (old disks, network shares: Python keeps
    them as surrogates, which Parquet and CSV cannot store) become `\\xNN`, control characters (a carriage return
    that would split a CSV row) `\\r`-style escapes. Deterministic, so a resume finds the same name again."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


def relative_name(audio_files: dict[str, str], path: str) -> str:
    """`path` as reports show it: relative to the listed folder (just the file name for a plain dict)."""
    root = getattr(audio_files, "root", None)
    if root is not None:
        try:
            return display_name(Path(path).relative_to(Path(root).absolute()).as_posix())
        except ValueError:
            pass
    return display_name(Path(path).name)
