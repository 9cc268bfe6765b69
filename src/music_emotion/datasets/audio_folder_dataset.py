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

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._typing import TablePreview

from music_emotion.audio.listing import AudioListing, display_name
from music_emotion.console import progress_bar

logger = logging.getLogger(__name__)
DEFAULT_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg")
CORPUS_MARKER = ".generated_corpus.json"  # written by a corpus generator (demo_data): which settings made the files
_FORMATS = {".mp3": "MP3", ".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}


class AudioFolderDataset(AbstractDataset[dict[str, tuple[np.ndarray, int]], dict[str, str]]):
    """Catalog entry::

        deam_audio:
          type: music_emotion.datasets.AudioFolderDataset
          path: data/01_raw/deam/MEMD_audio
          extensions: [.mp3]
          missing_hint: "Download DEAM and unpack it under data/01_raw/deam/ (docs/deam.md shows the layout)."
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
                    problems[self._relative(path)] = ("a link to something that is not a regular file "
                                                      "(a device or a pipe)")
                else:
                    problems[self._relative(path)] = "not a regular file"
            if not self._recursive:  # the folder itself only
                break
        return sorted(files), problems

    def _relative(self, path: Path) -> str:
        return display_name(path.relative_to(self._path).as_posix())

    def save(self, data: dict[str, Any]) -> None:
        """Write every file (each atomically: a temporary name, then a rename, so a killed run leaves whole
        files only). A generated corpus (`data.fingerprint` set) is resumable: files already written for the same
        fingerprint are kept, and a folder with audio but no corpus marker (a real dataset) is never written to."""
        for name in data:
            if Path(name).suffix.lower() not in _FORMATS:
                raise DatasetError(f"Cannot write '{self._path / name}': use one of {sorted(_FORMATS)}")
        todo = dict(data)
        fingerprint = getattr(data, "fingerprint", None)
        if fingerprint is not None:
            todo = self._resume_corpus(data, fingerprint)
        self._path.mkdir(parents=True, exist_ok=True)
        from joblib import Parallel, delayed

        writes = Parallel(n_jobs=self._n_jobs, return_as="generator_unordered")(
            delayed(_write_audio)(self._path / name, value) for name, value in todo.items())
        bar = progress_bar(total=len(todo), desc=f"writing {self._path.name}", unit="file") if len(todo) > 50 else None
        for _ in writes:
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        if fingerprint is not None:
            (self._path / CORPUS_MARKER).write_text(json.dumps({"fingerprint": fingerprint, "complete": True}))

    def _resume_corpus(self, data: dict[str, Any], fingerprint: str) -> dict[str, Any]:
        """The files of a generated corpus still to write; refuses a folder that holds someone's real audio."""
        marker = self._path / CORPUS_MARKER
        existing = {p.name for p in self._path.iterdir() if p.is_file()} if self._path.is_dir() else set()
        audio = {n for n in existing if Path(n).suffix.lower() in _FORMATS}
        if audio and not marker.is_file():
            raise DatasetError(f"'{self._path}' already holds {len(audio)} audio file(s) that this generator did not "
                               "write (no corpus marker): it may be a real dataset, so nothing is written there. "
                               "Point the generated corpus's catalog entry at an empty folder.")
        recorded = json.loads(marker.read_text()).get("fingerprint") if marker.is_file() else None
        if recorded != fingerprint:  # other settings, or a fresh folder: every file is (re)written
            self._path.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps({"fingerprint": fingerprint, "complete": False}))
            return dict(data)
        todo = {name: value for name, value in data.items() if name not in existing}
        logger.info("%s: %d of %d files already written for these settings, writing %d", self._path,
                    len(data) - len(todo), len(data), len(todo))
        return todo

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
        return TablePreview({"columns": ["name", "file", "bytes"], "data": [list(r.values()) for r in rows],
                             "index": list(range(len(rows)))})


def _write_audio(target: Path, value: Any) -> None:
    import soundfile as sf

    samples, sample_rate = value() if callable(value) else value
    partial = target.with_name(f".{target.name}.partial")
    if isinstance(samples, bytes):  # raw bytes, e.g. the demo's deliberately broken file
        partial.write_bytes(samples)
    else:
        sf.write(partial, np.asarray(samples, dtype=np.float32), int(sample_rate),
                 format=_FORMATS[target.suffix.lower()])
    os.replace(partial, target)
