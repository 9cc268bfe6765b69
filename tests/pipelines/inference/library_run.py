"""`python -m tests.pipelines.inference.library_run FOLDER PARTS OUT MODEL`: the inference pipeline as `kedro run`
runs it (SequentialRunner, the project's library lock hook), in a process of its own — for tests that start two."""

from __future__ import annotations

import logging
import sys

from kedro.framework.hooks.manager import _create_hook_manager
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from music_emotion.framework.output.log_output import plain_when_not_a_terminal
from music_emotion.framework.running.library_lock import LibraryLockHook
from music_emotion.pipelines.inference import create_pipeline
from tests.pipelines.inference.test_inference import PARAMS, SINGLE


def main(folder: str, parts: str, out: str, model: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    plain_when_not_a_terminal()  # as settings.py does for `kedro run`: whole lines, not rich's wrapped columns
    parts_entry = {"type": "music_emotion.datasets.ParquetPartsDataset", "path": parts}
    catalog = DataCatalog.from_config({
        "inference_audio": {"type": "music_emotion.datasets.AudioFolderDataset", "path": folder, "recursive": True},
        "inference_model": {"type": "music_emotion.datasets.TorchModelDataset", "filepath": model, "versioned": True},
        "library_predictions": parts_entry,
        "library_predictions_done": {**parts_entry, "load_args": {"columns": ["file", "size", "mtime_ns"]}},
        "inference_predictions": {"type": "pandas.CSVDataset", "filepath": out},
        "library_errors": {"type": "pandas.CSVDataset", "filepath": out + ".errors.csv"},
        "inference_va_plot": {"type": "matplotlib.MatplotlibDataset", "filepath": out + ".png"},
        "run_lineage": {"type": "music_emotion.datasets.RunLineageDataset"},
    })
    catalog["params:inference"] = PARAMS
    catalog["params:inference.plot"] = PARAMS["plot"]
    catalog["params:dask"] = SINGLE
    catalog["params:device"] = "cpu"
    hooks = _create_hook_manager()
    hooks.register(LibraryLockHook())
    SequentialRunner().run(create_pipeline(), catalog, hooks)


if __name__ == "__main__":
    main(*sys.argv[1:5])
