"""A versioned save that fails halfway (a full disk, a kill of the writer) leaves no version behind.

Spectrograms, models and Parquet parts are written under a temporary name and renamed last; figures, CSV, JSON and
text go through kedro-datasets, which write straight to `<name>/<version>/<file>`. When one of those saves raises,
the half-written version folder would become the dataset's "latest" (a 0-byte PNG, a truncated CSV). This hook
remembers which dataset is being saved and, when the run fails with that save unfinished, removes exactly that
version folder, so the previous version stays latest.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from music_emotion.framework.running.kedro_internals import save_path

logger = logging.getLogger(__name__)


def remove_half_saved(catalog: Any, name: str) -> Path | None:
    """Delete the current save version of `name` (versioned datasets only); returns the folder removed."""
    try:
        dataset = catalog.get(name)
        version = dataset.resolve_save_version()
        folder = save_path(dataset).parent
    except Exception:  # noqa: BLE001 - not a versioned file dataset: nothing of ours to roll back
        return None
    if folder.name != version or not folder.is_dir():
        return None
    shutil.rmtree(folder)
    logger.warning("Removed the half-written version %s of %s (its save failed): the previous version stays latest",
                   version, name)
    return folder


class HalfSavedVersionHook:
    def __init__(self) -> None:
        self._saving: str | None = None
        self._catalog: Any = None

    @hook_impl
    def before_pipeline_run(self, catalog: Any) -> None:
        self._catalog, self._saving = catalog, None

    @hook_impl
    def before_dataset_saved(self, dataset_name: str) -> None:
        self._saving = dataset_name

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        self._saving = None

    @hook_impl
    def on_pipeline_error(self, catalog: Any) -> None:
        if self._saving is not None:
            remove_half_saved(catalog, self._saving)
            self._saving = None
