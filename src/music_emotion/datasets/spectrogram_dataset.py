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


STORAGE_DTYPES = {"float32": np.float32, "float16": np.float16}
FLOAT16_MAX = float(np.finfo(np.float16).max)


def write_npy(path: Path, values: np.ndarray, dtype: type = np.float32, chunk: int = 64) -> None:
    """`values` as a `dtype` .npy at `path`, `chunk` rows at a time (a row converted only when its dtype differs),
    flushed to disk before returning. No copy of the whole array, and no pages left mapped. float16 refuses a value
    it cannot hold (|x| > 65,504) rather than store infinity."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": tuple(int(n) for n in values.shape)}
    with path.open("wb") as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        for start in range(0, len(values), chunk):
            rows = np.asarray(values[start : start + chunk])
            if np.dtype(dtype) == np.float16 and rows.size and float(np.nanmax(np.abs(rows))) > FLOAT16_MAX:
                raise DatasetError(
                    f"{path.name}: rows {start}-{start + len(rows) - 1} hold values beyond float16's range "
                    f"(±{FLOAT16_MAX:g}); store this dataset as float32 (storage_dtype in the catalog)"
                )
            handle.write(np.ascontiguousarray(rows, dtype=dtype).data)
        handle.flush()
        os.fsync(handle.fileno())


class SpectrogramDataset(CompleteVersionsDataset):
    """Catalog entry::

        mel_spectrograms:
          type: music_emotion.datasets.SpectrogramDataset
          filepath: data/04_feature/mel_spectrograms.npy
          versioned: true
          storage_dtype: float16   # default float32

    `storage_dtype: float16` halves the disk (DEAM's feature sets: 6.6 -> 3.3 GB). Its relative step is 2^-10: for
    log-mel dB in [-128, 0] at most 0.0625 dB (rounding error <= 0.031 dB), for the AST's log filter-bank energies
    (|x| < 32) at most 0.016, far below anything audible or learnable. The array loads in the dtype it was stored
    in; every reader converts a batch to float32 before arithmetic.
    """

    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        mmap: bool = True,
        storage_dtype: str = "float32",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(filepath, version, metadata)
        if storage_dtype not in STORAGE_DTYPES:
            raise DatasetError(f"{filepath}: storage_dtype must be one of {sorted(STORAGE_DTYPES)}, "
                               f"got {storage_dtype!r}")
        self._mmap = mmap
        self._storage_dtype = storage_dtype

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
        # The sidecar first, then the array written to a temporary name in chunks with plain file writes, fsynced and
        # renamed last: the array's final name marks a complete version. Not through a memory map: its written pages
        # stay mapped in this process, which at DEAM size doubled the AST node's peak RSS (4.1 GB array + 4.1 GB map).
        header = {"ids": list(data.ids), "shape": list(data.values.shape), "meta": data.meta}
        self._sidecar(array_path).write_text(json.dumps(header, indent=1, default=json_default))
        partial = array_path.with_name(array_path.stem + ".partial.npy")
        write_npy(partial, data.values, STORAGE_DTYPES[self._storage_dtype])
        os.replace(partial, array_path)
        self._invalidate_cache()


    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "version": self._version, "mmap": self._mmap,
                "storage_dtype": self._storage_dtype}

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

