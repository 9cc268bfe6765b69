"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# Pipelines that are not part of the default end-to-end run: `experiment` (folds x seeds x arms, long), `demo_data` writes the
# synthetic demo dataset, `inference` predicts the user's own audio files.
_NOT_IN_DEFAULT = ("demo_data", "inference", "experiment")


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines; ``__default__`` is the full training-and-report run."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        (p for name, p in pipelines.items() if name not in _NOT_IN_DEFAULT), Pipeline([])
    )
    return pipelines
