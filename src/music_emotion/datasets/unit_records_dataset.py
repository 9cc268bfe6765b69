"""The catalog entry of the experiment's resume records: it hands nodes the folder, and is never saved to.

Records are written by the node that finishes each (seed, fold, arm), as soon as it finishes (so a crash at hour
three keeps hours one and two), not by the runner at the end of a node chain; loading therefore returns the
store itself (`study.unit_records.UnitRecordStore`), and `save` is refused.
"""

from __future__ import annotations

from typing import Any

from kedro.io import AbstractDataset, DatasetError

from music_emotion.study.unit_records import UnitRecordStore


class UnitRecordsDataset(AbstractDataset[None, UnitRecordStore]):
    """Catalog entry::

        experiment_unit_records:
          type: music_emotion.datasets.UnitRecordsDataset
          path: data/07_model_output/experiment_units
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = path
        self.metadata = metadata

    def load(self) -> UnitRecordStore:
        return UnitRecordStore(self._path)

    def save(self, data: None) -> None:
        raise DatasetError("experiment_unit_records is written record by record by the experiment's evaluate_arm "
                           "nodes; it is an input, not an output")

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path}

    def _exists(self) -> bool:
        return True
