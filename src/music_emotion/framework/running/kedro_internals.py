"""Every private Kedro attribute the project reads, in one place, so that a Kedro upgrade breaks here and in
`tests/test_kedro_internals.py` (which pins each one), not somewhere deep in a hook.

Kedro 1.7 has no public API for: where a file dataset lives and which version folder a save goes to
(`_filepath`, `_version`, `_get_versioned_path`, `_get_load_path`), which pipelines `--pipelines` asked for
before they are built (`pipelines._requested_pipelines`), rebuilding the registry after the parameters changed
(`pipelines._is_data_loaded`), and checking `--load-versions` before the catalog is built
(`KedroContext._get_catalog`). kedro-mlflow has none for whether its hook found an MLflow run already open
(`MlflowHook._already_active_mlflow`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def dataset_location(dataset: Any) -> str:
    """The file or folder a dataset reads and writes ("" for one that has none, such as a MemoryDataset)."""
    for attribute in ("_filepath", "_path"):
        value = getattr(dataset, attribute, None)
        if value:
            return str(value)
    return ""


def dataset_version(dataset: Any) -> Any:
    """A versioned dataset's `Version(load, save)`; None for an unversioned one."""
    return getattr(dataset, "_version", None)


def save_path(dataset: Any) -> Path:
    """The file (or model folder) this run's save of a versioned dataset went to."""
    return Path(str(dataset._get_versioned_path(dataset.resolve_save_version())))


def load_path(dataset: Any) -> Path:
    """The file a versioned dataset loads (the newest version unless pinned)."""
    return Path(str(dataset._get_load_path()))


def requested_pipelines() -> list[str] | None:
    """The names given to `--pipelines`, known before the registry builds any pipeline."""
    from kedro.framework.project import pipelines

    return getattr(pipelines, "_requested_pipelines", None)


def forget_built_pipelines() -> None:
    """Make the registry rebuild its pipelines on next access (they depend on the run's parameters)."""
    from kedro.framework.project import pipelines

    if getattr(pipelines, "_is_data_loaded", False):
        pipelines._is_data_loaded = False


def mlflow_run_was_already_active(hook: Any) -> bool:
    """True when kedro-mlflow's hook found a run open when the Kedro run started (a notebook's own run): then
    closing leftover runs must leave it open."""
    return bool(hook._already_active_mlflow)


def check_before_catalog(context: Any, check: Callable[[dict[str, str] | None], None],
                         explain: Callable[[Exception], Exception | None]) -> None:
    """Call `check(load_versions)` before the session builds its catalog, and let `explain` turn what building
    it raises (Kedro answers an unknown `--load-versions` name with a traceback) into a user's error."""
    build = context._get_catalog

    def _get_catalog(*args: Any, **kwargs: Any) -> Any:
        check(kwargs.get("load_versions"))
        try:
            return build(*args, **kwargs)
        except Exception as exc:
            if (explained := explain(exc)) is not None:
                raise explained from exc
            raise

    context._get_catalog = _get_catalog
