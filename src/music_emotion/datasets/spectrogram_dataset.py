"""Versioned `.npy` storage for a `SpectrogramSet`, loaded as a read-only memory map.

Layout of one version: `<filepath>/<version>/<name>.npy` (the array) and, beside it,
`<name>.json` (ids and extraction metadata), so rows can never be separated from their ids.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from kedro.io import DatasetError, Version
from kedro_datasets._typing import ImagePreview

from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.datasets.complete_versions import CompleteVersionsDataset
from music_emotion.jsonable import json_default

logger = logging.getLogger(__name__)


class SpectrogramDataset(CompleteVersionsDataset):
    """Catalog entry::

        mel_spectrograms:
          type: music_emotion.datasets.SpectrogramDataset
          filepath: data/04_feature/mel_spectrograms.npy
          versioned: true
    """

    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        mmap: bool = True,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(filepath, version, metadata)
        self._mmap = mmap

    kind = "spectrogram"

    @classmethod
    def version_files(cls, path: Path) -> list[Path]:
        return [path, cls._sidecar(path)]

    @staticmethod
    def _sidecar(array_path: PurePosixPath | Path) -> Path:
        return Path(str(array_path)).with_suffix(".json")


    def load(self) -> SpectrogramSet:
        array_path = Path(str(self._get_load_path()))
        sidecar = self._sidecar(array_path)
        if not array_path.is_file() or not sidecar.is_file():
            raise DatasetError(
                f"Spectrogram array '{array_path}' or its sidecar '{sidecar.name}' is missing; "
                "run the pipeline that produces it first"
            )
        header = json.loads(sidecar.read_text())
        values = np.load(array_path, mmap_mode="r" if self._mmap else None)
        return SpectrogramSet(ids=header["ids"], values=values, meta=header.get("meta", {}))

    def save(self, data: SpectrogramSet) -> None:
        if not isinstance(data, SpectrogramSet):
            raise DatasetError(f"SpectrogramDataset saves a SpectrogramSet, got {type(data).__name__}")
        array_path = Path(str(self._get_save_path()))
        array_path.parent.mkdir(parents=True, exist_ok=True)
        # The sidecar first, then the array streamed to a temporary name through a memory map (never a second
        # in-RAM copy), flushed and renamed last: the array's final name marks a complete version.
        header = {"ids": list(data.ids), "shape": list(data.values.shape), "meta": data.meta}
        self._sidecar(array_path).write_text(json.dumps(header, indent=1, default=json_default))
        partial = array_path.with_name(array_path.stem + ".partial.npy")
        out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float32, shape=data.values.shape)
        chunk = 256
        for start in range(0, len(data), chunk):
            out[start : start + chunk] = data.values[start : start + chunk]
        out.flush()
        del out
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, array_path)
        self._invalidate_cache()


    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "version": self._version, "mmap": self._mmap}

    def _invalidate_cache(self) -> None:
        self._clear_version_cache()

    def preview(self, n_examples: int = 3) -> ImagePreview:
        """kedro-viz preview: the first few spectrograms as an image, titled with their ids and shape."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        data = self.load()
        n = max(1, min(n_examples, len(data)))
        fig, axes = plt.subplots(n, 1, figsize=(8, 2.2 * n), squeeze=False)
        for ax, row in zip(axes[:, 0], range(n), strict=True):
            image = ax.imshow(data.values[row], origin="lower", aspect="auto", cmap="magma")
            ax.set_title(f"id {data.ids[row]}  ({len(data)} items, {data.shape[0]}x{data.shape[1]})", fontsize=9)
            ax.set_ylabel("mel bin")
            fig.colorbar(image, ax=ax, label="dB")
        axes[-1, 0].set_xlabel("frame")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        plt.close(fig)
        return ImagePreview(base64.b64encode(buffer.getvalue()).decode("utf-8"))

