"""Versioned storage of a project model as a directory: `config.json` + `model.safetensors`.

No pickles: loading rebuilds the class named in the config (`models.base.load_pretrained_model`).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from kedro.io import DatasetError, Version
from kedro_datasets._typing import JSONPreview

from music_emotion.datasets.complete_versions import CompleteVersionsDataset
from music_emotion.models.base import CONFIG_NAME, WEIGHTS_NAME, load_pretrained_model

logger = logging.getLogger(__name__)


class TorchModelDataset(CompleteVersionsDataset):
    """Catalog entry::

        generator:
          type: music_emotion.datasets.TorchModelDataset
          filepath: data/06_models/generator
          versioned: true
    """

    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        map_location: str = "cpu",
        missing_hint: str = "run the pipeline that trains it first (or pin an existing version with --load-versions)",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(filepath, version, metadata)
        self._map_location = map_location
        self._missing_hint = missing_hint

    kind = "model"

    @classmethod
    def version_files(cls, path: Path) -> list[Path]:
        return [path / CONFIG_NAME, path / WEIGHTS_NAME]

    def load(self):
        try:
            directory = Path(str(self._get_load_path()))
        except DatasetError as exc:
            raise DatasetError(f"No saved model at '{self._filepath}': {self._missing_hint}. ({exc})") from exc
        return load_pretrained_model(directory, map_location=self._map_location)

    def save(self, model) -> None:
        if not hasattr(model, "save_pretrained"):
            raise DatasetError(f"TorchModelDataset saves project models, got {type(model).__name__}")
        directory = Path(str(self._get_save_path()))
        # Written beside the final name, flushed to disk, then renamed: a kill mid-save leaves only a
        # `.partial` folder, which no load ever picks up.
        partial = directory.with_name(directory.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        model.save_pretrained(partial)
        for file in partial.iterdir():
            with file.open("rb") as handle:
                os.fsync(handle.fileno())
        partial.rename(directory)
        self._clear_version_cache()


    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "version": self._version}

    def preview(self) -> JSONPreview:
        """kedro-viz preview: the model's config.json."""
        directory = Path(str(self._get_load_path()))
        return JSONPreview((directory / CONFIG_NAME).read_text())
