"""A folder of audio files as a catalog entry.

Loading lists the files (`{stem: absolute path}`, sorted) instead of decoding them, so that
extraction can decode in parallel workers and hold one clip per worker. Saving writes
`{file name: (samples, sample_rate)}` with soundfile (mp3, wav, flac, ogg by extension).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._typing import TablePreview

DEFAULT_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg")
_FORMATS = {".mp3": "MP3", ".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}


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
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._path = Path(path)
        self._extensions = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
        self._recursive = recursive
        self._missing_hint = missing_hint
        self.metadata = metadata

    def load(self) -> dict[str, str]:
        if not self._path.is_dir():
            raise DatasetError(f"Audio folder '{self._path}' does not exist. {self._missing_hint}".strip())
        pattern = "**/*" if self._recursive else "*"
        files = sorted(
            p for p in self._path.glob(pattern) if p.is_file() and p.suffix.lower() in self._extensions
        )
        listing: dict[str, str] = {}
        for file in files:
            key = str(file.relative_to(self._path).with_suffix("")) if self._recursive else file.stem
            if key in listing:  # e.g. song.mp3 and song.wav side by side: keep both, distinctly
                key = str(file.relative_to(self._path))
            listing[key] = str(file.resolve())
        return listing

    def save(self, data: dict[str, tuple[np.ndarray, int]]) -> None:
        self._path.mkdir(parents=True, exist_ok=True)
        import soundfile as sf

        for name, (samples, sample_rate) in data.items():
            target = self._path / name
            fmt = _FORMATS.get(target.suffix.lower())
            if fmt is None:
                raise DatasetError(f"Cannot write '{target}': use one of {sorted(_FORMATS)}")
            if isinstance(samples, bytes):  # raw bytes, e.g. a deliberately broken file in the demo
                target.write_bytes(samples)
                continue
            sf.write(target, np.asarray(samples, dtype=np.float32), int(sample_rate), format=fmt)

    def _exists(self) -> bool:
        return self._path.is_dir()

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
