"""A versioned save that fails halfway (here: a full disk, injected as ENOSPC) leaves no version that loads as
latest."""

import errno

import pandas as pd
import pytest
from kedro.framework.hooks.manager import _create_hook_manager
from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline
from kedro.runner import SequentialRunner

from music_emotion.framework.running.save_rollback import HalfSavedVersionHook


def _catalog(tmp_path):
    return DataCatalog.from_config({"table": {"type": "pandas.CSVDataset", "filepath": str(tmp_path / "table.csv"),
                                              "versioned": True}})


def _run(tmp_path, rows, hook=True):
    """As KedroSession.run does: the runner calls the dataset hooks, the session `on_pipeline_error`."""
    hooks, rollback, catalog = _create_hook_manager(), HalfSavedVersionHook(), _catalog(tmp_path)
    if hook:
        hooks.register(rollback)
    pipeline = Pipeline([Node(lambda: pd.DataFrame({"x": range(rows)}), inputs=None, outputs="table", name="make")])
    try:
        SequentialRunner().run(pipeline, catalog, hooks)
    except Exception:
        hooks.hook.on_pipeline_error(error=None, run_params={}, pipeline=pipeline, catalog=catalog)
        raise


@pytest.mark.parametrize("hook, latest_rows", [(True, 3), (False, 0)])
def test_a_save_that_fails_on_a_full_disk_leaves_the_previous_version_latest(tmp_path, monkeypatch, hook, latest_rows):
    _run(tmp_path, 3)  # a good version first
    real_to_csv = pd.DataFrame.to_csv

    def full_disk(self, path_or_buf=None, **kwargs):
        real_to_csv(self.head(0), path_or_buf, **kwargs)  # the header got out, then the disk filled up
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    with pytest.raises(Exception, match="No space left on device"):
        _run(tmp_path, 5, hook=hook)
    monkeypatch.undo()
    # with the hook the half-written version is gone; without it (the broken twin) it is what loads as latest
    assert len(_catalog(tmp_path).load("table")) == latest_rows
