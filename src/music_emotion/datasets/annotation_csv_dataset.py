"""A pandas CSV dataset that remembers which file a table came from.

Validation errors in the nodes can then name the file (`df.attrs["source_file"]`) without the
nodes knowing any path.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from kedro.io import DatasetError
from kedro_datasets.pandas import CSVDataset


class AnnotationCSVDataset(CSVDataset):
    """`pandas.CSVDataset` + `df.attrs["source_file"]` + a helpful message when the file is absent."""

    def __init__(self, *args, missing_hint: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._missing_hint = missing_hint

    def load(self) -> pd.DataFrame:
        path = Path(str(self._get_load_path()))
        if not path.is_file():
            raise DatasetError(f"Annotation file '{path}' does not exist. {self._missing_hint}".strip())
        data = super().load()
        data.attrs["source_file"] = path.name  # what the user knows it by; outputs never hold machine paths
        return data
