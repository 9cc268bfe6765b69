"""A versioned file dataset whose version counts only when every file of it was written.

Saves write to a `.partial` name and rename at the end, so an interrupted save leaves no file under the real
name; a version folder that still lacks a part (a crash between two files, or a save by an older release of a
dataset) is skipped with a warning naming it, and the previous version stays the latest.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io.core import AbstractVersionedDataset, DatasetError, Version

logger = logging.getLogger(__name__)


class CompleteVersionsDataset(AbstractVersionedDataset):
    """Subclasses say which files make one version (`version_files`) and what they hold (`kind`)."""

    kind = "dataset"

    def __init__(self, filepath: str, version: Version | None, metadata: dict[str, Any] | None) -> None:
        super().__init__(PurePosixPath(filepath), version, exists_function=self.is_complete)
        self.metadata = metadata

    @classmethod
    def version_files(cls, path: Path) -> list[Path]:
        """The files one saved version consists of, given its load path."""
        return [path]

    @classmethod
    def is_complete(cls, path: str) -> bool:
        """True when every file of the version at `path` is there; a partly written one is named in a warning."""
        files = cls.version_files(Path(path))
        complete = all(f.is_file() for f in files)
        if not complete and any(f.exists() for f in files):
            logger.warning("Skipping the incomplete %s version '%s' (its save was interrupted): pin another version "
                           "with --load-versions, or delete that folder", cls.kind, files[0].parent)
        return complete

    def _exists(self) -> bool:
        try:
            path = self._get_load_path()
        except DatasetError:
            return False
        return self.is_complete(str(path))
