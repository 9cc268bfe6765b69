"""Project pipelines."""

from __future__ import annotations

import difflib
import pkgutil

import click
from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

import music_emotion.pipelines as pipeline_package
from music_emotion.framework.checks.renames import new_name
from music_emotion.framework.running.kedro_internals import requested_pipelines

# Pipelines that are not part of the default end-to-end run: `experiment` (folds x seeds x arms, long), `demo_data`
# writes the synthetic demo dataset, `inference` predicts the user's own audio files.
_NOT_IN_DEFAULT = ("demo_data", "inference", "experiment")


class UnknownPipelineError(click.ClickException):
    """`--pipelines` named a pipeline this project does not have."""


def pipeline_names() -> list[str]:
    """Every pipeline a user can run: one per package under `music_emotion/pipelines/`, and `__default__`."""
    return sorted(m.name for m in pkgutil.iter_modules(pipeline_package.__path__) if m.ispkg) + ["__default__"]


def check_requested(requested: list[str] | None) -> None:
    """One clear line (with a close match) instead of Kedro's import traceback for a mistyped `--pipelines`."""
    known = pipeline_names()
    unknown = [name for name in requested or [] if name not in known]
    renamed = [f"'{name}' is called '{new_name(name)}' since this release" for name in unknown if new_name(name)]
    if renamed:
        raise UnknownPipelineError(f"no pipeline named {'; '.join(renamed)}: run `kedro run --pipelines "
                                   f"{','.join(new_name(n) or n for n in requested)}`")
    if unknown:
        hints = [f"'{n}'" + (f" (did you mean '{m[0]}'?)" if (m := difflib.get_close_matches(n, known, 1)) else "")
                 for n in unknown]
        raise UnknownPipelineError(f"no pipeline named {', '.join(hints)}. "
                                   f"This project's pipelines: {', '.join(known)}")


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines; ``__default__`` is the full training-and-report run."""
    check_requested(requested_pipelines())
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        (p for name, p in pipelines.items() if name not in _NOT_IN_DEFAULT), Pipeline([])
    )
    return pipelines
