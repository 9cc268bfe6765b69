"""Pins every private Kedro attribute `framework/running/kedro_internals.py` reads: a Kedro upgrade that moves one fails
here, by name, instead of deep inside a hook during a user's run."""

from __future__ import annotations

import inspect

import pandas as pd
import pytest
from kedro.framework.context import KedroContext
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.io import Version
from kedro_datasets.pandas import CSVDataset

from music_emotion.framework.running import kedro_internals


def test_a_versioned_file_dataset_still_says_where_its_versions_go(tmp_path):
    dataset = CSVDataset(filepath=str(tmp_path / "table.csv"), version=Version(None, "2026-01-01T00.00.00.000Z"))
    dataset.save(pd.DataFrame({"a": [1]}))
    saved = tmp_path / "table.csv" / "2026-01-01T00.00.00.000Z" / "table.csv"
    assert kedro_internals.save_path(dataset) == saved and saved.is_file()
    assert kedro_internals.load_path(dataset) == saved
    assert kedro_internals.dataset_location(dataset) == str(tmp_path / "table.csv")
    assert kedro_internals.dataset_version(dataset).save == "2026-01-01T00.00.00.000Z"
    assert kedro_internals.dataset_version(CSVDataset(filepath=str(tmp_path / "plain.csv"))) is None


def test_the_registry_still_has_its_request_and_its_loaded_flag():
    assert hasattr(pipelines, "_requested_pipelines") and hasattr(pipelines, "_is_data_loaded")
    kedro_internals.forget_built_pipelines()
    assert pipelines._is_data_loaded is False


def test_the_session_still_builds_its_catalog_through_the_context_with_load_versions():
    parameters = inspect.signature(KedroContext._get_catalog).parameters
    assert {"catalog_class", "save_version", "load_versions"} <= set(parameters)
    assert "load_versions=load_versions" in inspect.getsource(KedroSession.run)


def test_the_catalog_check_runs_first_and_explains_what_building_raises():
    seen = []

    class Context:
        def _get_catalog(self, catalog_class=None, save_version=None, load_versions=None):
            raise KeyError("built")

    context = Context()
    kedro_internals.check_before_catalog(context, seen.append, lambda exc: ValueError(f"explained {exc}"))
    with pytest.raises(ValueError, match="explained 'built'"):
        context._get_catalog(save_version="s", load_versions={"a": "v"})
    assert seen == [{"a": "v"}]


def test_kedro_mlflow_s_hook_still_records_a_run_it_found_open():
    """`MlflowHook.after_context_created` sets `_already_active_mlflow`; the source is checked, not a run started."""
    from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook

    assert "self._already_active_mlflow = True" in inspect.getsource(MlflowHook.after_context_created)

    class Hook:
        _already_active_mlflow = True

    assert kedro_internals.mlflow_run_was_already_active(Hook()) is True
