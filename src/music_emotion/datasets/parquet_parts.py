"""Parquet parts written one batch at a time, atomically, into a folder that may not exist yet.

`AtomicParquetDataset` writes `<part>.parquet.partial`, flushes it and renames it last: a run killed while a part
is being written leaves no truncated part that a resume would have to read. `ParquetPartsDataset` is kedro's
`PartitionedDataset` of those parts, which loads an absent or empty folder as "nothing predicted yet" (`{}`)
instead of failing, so the first run of a resumable pipeline needs no special case.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets.partitions import PartitionedDataset


class AtomicParquetDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """One Parquet file; saved through a temporary sibling and a rename."""

    def __init__(self, filepath: str, load_args: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self._load_args = dict(load_args or {})
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        return pd.read_parquet(self._filepath, **self._load_args)

    def save(self, data: pd.DataFrame) -> None:
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        partial = self._filepath.with_name(self._filepath.name + ".partial")
        data.to_parquet(partial, index=False)
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, self._filepath)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


class ParquetPartsDataset(PartitionedDataset):
    """`PartitionedDataset` of `AtomicParquetDataset` parts; an absent or empty folder loads as `{}`."""

    def __init__(self, *, path: str, load_args: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        dataset = {"type": AtomicParquetDataset, "load_args": dict(load_args or {})}
        super().__init__(path=path, dataset=dataset, filename_suffix=".parquet", metadata=metadata)

    def load(self) -> dict[str, Any]:
        if not Path(self._path).is_dir():
            return {}
        try:
            return super().load()
        except DatasetError:  # no part yet
            return {}

    def _exists(self) -> bool:
        return True
