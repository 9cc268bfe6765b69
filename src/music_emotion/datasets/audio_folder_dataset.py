"""A folder of audio files as a catalog entry.

Loading lists the files (an `AudioListing`: `{stem: absolute path}`, sorted, plus the folder) instead of
decoding them, so that extraction can decode in parallel workers and hold one clip per worker. Paths keep
the names the user sees (a symlink is listed under its own name, not its target's), and reports name a file
relative to the folder (`relative_name`), never by an absolute machine path. Saving writes
`{file name: (samples, sample_rate)}` with soundfile (mp3, wav, flac, ogg by extension); a value
may also be a zero-argument callable returning that pair, so a large folder is written one file
at a time (raw `bytes` as samples are written as they are).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._typing import TablePreview

DEFAULT_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg")
_FORMATS = {".mp3": "MP3", ".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}


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


class AudioFolderDataset(AbstractDataset[dict[str, tuple[np.ndarray, int]], dict[str, str]]):
    """Catalog entry::

        deam_audio:
          type: music_emotion.datasets.AudioFolderDataset
          path: data/01_raw/deam/MEMD_audio
          extensions: [.mp3]
          missing_hint: "Download DEAM and unpack it under data/01_raw/deam/ (see README)."
    """

    def __init__(
        self,
        path: str,
        extensions: list[str] | tuple[str, ...] = DEFAULT_EXTENSIONS,
        recursive: bool = False,
        missing_hint: str = "",
        n_jobs: int = -1,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._path = Path(path)
        self._extensions = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
        self._recursive = recursive
        self._missing_hint = missing_hint
        self._n_jobs = n_jobs
        self.metadata = metadata

    def load(self) -> AudioListing:
        if not self._path.is_dir():
            raise DatasetError(f"Audio folder '{self._path}' does not exist. {self._missing_hint}".strip())
        files, problems = self._walk()
        listing: dict[str, str] = {}
        for file in files:
            key = str(file.relative_to(self._path).with_suffix("")) if self._recursive else file.stem
            if key in listing:  # e.g. song.mp3 and song.wav side by side: keep both, distinctly
                key = str(file.relative_to(self._path))
            listing[key] = str(file.absolute())  # not resolve(): a link keeps its own name
        return AudioListing(listing, self._path, problems)

    def _walk(self) -> tuple[list[Path], dict[str, str]]:
        """(audio files, sorted; {relative name: why it cannot be read} for entries named like audio that are
        not readable files). Links to folders are not followed, so a link loop cannot trap the walk."""
        files, problems = [], {}

        def unreadable(exc: OSError) -> None:  # a folder the walk cannot list: its files must not vanish silently
            folder = Path(exc.filename or self._path)
            name = self._relative(folder) if folder != Path(self._path) else "."
            problems[name + "/"] = f"cannot list this folder ({exc.strerror or exc}): its files were not read"

        for folder, dirnames, filenames in os.walk(self._path, followlinks=False, onerror=unreadable):
            for name in dirnames:
                if Path(name).suffix.lower() in self._extensions:
                    problems[self._relative(Path(folder) / name)] = "a folder named like an audio file"
            for name in filenames:
                path = Path(folder) / name
                if path.suffix.lower() not in self._extensions:
                    continue
                if path.is_file():
                    files.append(path)
                elif path.is_symlink() and not path.exists():
                    problems[self._relative(path)] = "a link to a file that does not exist"
                elif path.is_symlink():
                    problems[self._relative(path)] = "a link to something that is not a regular file (a device or a pipe)"
                else:
                    problems[self._relative(path)] = "not a regular file"
            if not self._recursive:  # the folder itself only
                break
        return sorted(files), problems

    def _relative(self, path: Path) -> str:
        return display_name(path.relative_to(self._path).as_posix())

    def save(self, data: dict[str, Any]) -> None:
        self._path.mkdir(parents=True, exist_ok=True)
        for name in data:
            if Path(name).suffix.lower() not in _FORMATS:
                raise DatasetError(f"Cannot write '{self._path / name}': use one of {sorted(_FORMATS)}")
        from joblib import Parallel, delayed

        Parallel(n_jobs=self._n_jobs)(delayed(_write_audio)(self._path / name, value) for name, value in data.items())

    def _exists(self) -> bool:
        return self._path.is_dir()

    def empty_reason(self) -> str:
        """Why this existing folder cannot feed a run ("" when it holds at least one audio file)."""
        for folder, _, filenames in os.walk(self._path, followlinks=False):  # stops at the first audio file
            if any(Path(n).suffix.lower() in self._extensions and (Path(folder) / n).is_file() for n in filenames):
                return ""
            if not self._recursive:
                break
        return f"the folder holds no audio file ({', '.join(self._extensions)})"

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "extensions": self._extensions, "recursive": self._recursive}

    def preview(self, nrows: int = 20) -> TablePreview:
        """kedro-viz preview: the first files with their sizes."""
        listing = self.load() if self._exists() else {}
        rows = [
            {"name": name, "file": Path(path).name, "bytes": Path(path).stat().st_size}
            for name, path in list(listing.items())[:nrows]
        ]
        return TablePreview({"columns": ["name", "file", "bytes"], "data": [list(r.values()) for r in rows], "index": list(range(len(rows)))})


def _write_audio(target: Path, value: Any) -> None:
    import soundfile as sf

    samples, sample_rate = value() if callable(value) else value
    if isinstance(samples, bytes):  # raw bytes, e.g. the demo's deliberately broken file
        target.write_bytes(samples)
        return
    sf.write(target, np.asarray(samples, dtype=np.float32), int(sample_rate), format=_FORMATS[target.suffix.lower()])
