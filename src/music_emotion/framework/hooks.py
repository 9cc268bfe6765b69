"""Project hooks: a run's external inputs are checked before any node runs.

A missing input (DEAM not unpacked, the demo data not generated, a pipeline run out of order)
then stops the run with one short message per input: which dataset, where, and what to run or
download. No deep stack trace. `MissingInputsError` is a `click.ClickException`, so `kedro run`
prints it as `Error: ...` and exits with 1, while a notebook or script gets a normal exception.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline

from music_emotion.framework.checks.renames import earlier_release_copy, new_name, renamed_in_run, renamed_parameter
from music_emotion.framework.running.kedro_internals import check_before_catalog, dataset_location

logger = logging.getLogger(__name__)


class MissingInputsError(click.ClickException):
    """The run's inputs named in the message do not exist yet."""


def _producers(name: str) -> list[str]:
    """Pipelines that write `name`, from the project's pipeline packages themselves: during
    `kedro run --pipelines X` Kedro's registry holds only X (and this runs only when something is missing)."""
    import importlib
    import pkgutil

    import music_emotion.pipelines as package

    found = []
    for module in (m for m in pkgutil.iter_modules(package.__path__) if m.ispkg):
        pipeline = importlib.import_module(f"{package.__name__}.{module.name}").create_pipeline()
        if name in pipeline.all_outputs():
            found.append(module.name)
    return sorted(found)


def _env_option(env: str | None) -> str:
    """The user's own `--env` option, repeated in every command a hint suggests."""
    return f" --env {env}" if env and env != "local" else ""


def _versions_present(dataset: Any) -> list[str]:
    """Timestamps of the versions saved for a versioned dataset, newest first (empty when none or unversioned)."""
    folder = Path(dataset_location(dataset))
    if not folder.name or not folder.is_dir():
        return []
    return sorted((p.name for p in folder.iterdir() if p.is_dir()), reverse=True)


def explain_missing(name: str, catalog: Any, env: str | None = None, load_versions: dict | None = None) -> str:
    """One line: the dataset, where it should be, and how to get it (with the user's own env and options)."""
    try:
        dataset = catalog.get(name)
    except Exception:  # noqa: BLE001 - not in the catalog at all
        dataset = None
    where = dataset_location(dataset) if dataset is not None else ""
    pinned = (load_versions or {}).get(name)
    if pinned:
        present = _versions_present(dataset)
        hint = (f"the version {pinned} pinned with --load-versions does not exist; "
                + (f"saved versions, newest first: {', '.join(present[:5])}" if present else "no version is saved yet")
                + f"; pick one of them or drop --load-versions {name}:{pinned}")
    else:
        hint = getattr(dataset, "_missing_hint", "") if dataset is not None else ""
        old = earlier_release_copy(dataset_location(dataset)) if dataset is not None else None
        if old is not None:
            hint = (f"an earlier release saved it under its old name at {old}: move it with "
                    f"`mv {old} {dataset_location(dataset)}`, or re-run the pipeline that writes it")
        producers = _producers(name)
        if not hint and producers:
            hint = ("produced by " + " or ".join(f"`kedro run{_env_option(env)} --pipelines {p}`" for p in producers)
                    + ": run that first")
        if dataset is None and not hint:
            hint = "it is not in the catalog and no pipeline produces it"
    return f"  - {name}" + (f" ({where})" if where else "") + (f": {hint}" if hint else "")


def _empty_reason(name: str, catalog: Any) -> str:
    """Why an existing input still cannot feed the run (an audio folder with no audio in it), else ""."""
    try:
        dataset = catalog.get(name)
    except Exception:  # noqa: BLE001 - checked as missing above
        return ""
    check = getattr(dataset, "empty_reason", None)
    return check() if callable(check) else ""


def _parameter_problems(pipeline: Pipeline) -> list[str]:
    from music_emotion.framework.checks.parameter_values import parameter_problems
    from music_emotion.framework.running.run_parameters import run_parameters

    sections = {name.removeprefix("params:") for name in pipeline.inputs() if name.startswith("params:")}
    return parameter_problems(run_parameters(), sections)


def _arms_of(pipeline: Pipeline) -> set[str]:
    """The arms a pipeline's nodes fit: named by the single split's `train_arm` (`arm_name`), the experiment's
    `fit_and_record_arm` (`arm`) and `fit_generator_and_record_arms` (`arms`)."""
    from music_emotion.framework.running.bound_function import BoundFunction

    arms: set[str] = set()
    for node in pipeline.nodes:
        if isinstance(node.func, BoundFunction):
            bound = node.func.bound
            arms.update(name for name in (bound.get("arm_name"), bound.get("arm")) if isinstance(name, str))
            arms.update(bound.get("arms") or ())
    return arms


def checkpoint_problems(pipeline: Pipeline) -> list[str]:
    """One paragraph per pretrained checkpoint that a training node of this run needs and cannot get (not on
    disk, not cached, hub unreachable): checked once per checkpoint, before the first node runs."""
    from music_emotion.framework.running.run_parameters import run_parameters
    from music_emotion.models.backbone_loading import BACKBONES, checkpoint_problem

    params = run_parameters()
    families = {(params["arms"].get(arm) or {}).get("model") for arm in _arms_of(pipeline)}
    if any("audio_embeddings" in node.outputs for node in pipeline.nodes):  # the frozen encoder runs there
        families.add("embedding")
    families &= set(BACKBONES)
    problems = []
    for family in sorted(families):
        section = params
        for key in BACKBONES[family].section.split("."):
            section = section[key]
        problem = checkpoint_problem(family, section["checkpoint"], float(section["hub_probe_timeout_s"]),
                                     section.get("revision"))  # only the encoder's section pins a revision
        if problem:
            problems.append(problem)
    return problems


class RenamedNameError(click.ClickException):
    """An option named something by its earlier release's name."""


def _check_load_versions(load_versions: dict[str, str] | None) -> None:
    if problems := renamed_in_run({"load_versions": load_versions}):
        raise RenamedNameError("; ".join(problems))


def _explain_catalog_error(exc: Exception) -> Exception | None:
    from kedro.io import DatasetNotFoundError

    if isinstance(exc, DatasetNotFoundError) and "load_versions" in str(exc):
        return RenamedNameError(f"{exc} Drop them from --load-versions, or pin a dataset `kedro catalog list` shows")
    return None


def _unknown_parameter_keys(conf_source: str | None) -> list[str]:
    from music_emotion.framework.checks.parameter_names import base_parameter_schema, unknown_keys
    from music_emotion.framework.running.run_parameters import run_parameters

    if not conf_source or not (Path(conf_source) / "base").is_dir():
        return []  # a packaged run's conf lives elsewhere: its parameter names cannot be checked here
    said = []
    for problem in unknown_keys(run_parameters(), base_parameter_schema(conf_source)):
        key = problem.split(":", 1)[0]
        if new_name(key) is not None:
            continue  # an old pipeline or dataset name gets its rename line
        if (renamed := renamed_parameter(key)) is not None:
            problem = f"{key}: renamed to `{renamed}` in 0.2 (set it there, in conf/ or with --params)"
        said.append(problem)
    return said


class InputCheckHooks:
    def __init__(self) -> None:
        self._conf_source: str | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._conf_source = str(context.config_loader.conf_source)
        check_before_catalog(context, _check_load_versions, _explain_catalog_error)

    # First of all before_pipeline_run hooks: a run this check stops has started nothing (no MLflow run left
    # KILLED, no library lock taken).
    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any) -> None:
        missing = []
        for name in sorted(pipeline.inputs()):
            if name.startswith("params:") or name == "parameters":
                continue
            try:
                present = catalog.exists(name)
            except Exception:  # noqa: BLE001 - a dataset that cannot even be checked is not usable
                present = False
            if not present:
                missing.append(explain_missing(name, catalog, run_params.get("env"), run_params.get("load_versions")))
            elif reason := _empty_reason(name, catalog):
                dataset = catalog.get(name)
                hint = getattr(dataset, "_missing_hint", "")
                missing.append(f"  - {name} ({dataset_location(dataset)}): {reason}" + (f". {hint}" if hint else ""))
        missing += [f"  - {problem}" for problem in checkpoint_problems(pipeline)]
        bad = [f"  - {problem}" for problem in _parameter_problems(pipeline) + renamed_in_run(run_params)]
        unknown = [f"  - {problem}" for problem in _unknown_parameter_keys(self._conf_source)]
        if missing or bad or unknown:
            env = run_params.get("env") or "local (the default env)"
            said = ([f"{len(missing)} input(s) do not exist yet or are empty"] if missing else []) + (
                [f"{len(unknown)} parameter name(s) are unknown (a typo in conf/ or --params?)"] if unknown else []) + (
                [f"{len(bad)} parameter(s) are out of range (set them in conf/local/ or with --params)"] if bad else [])
            raise MissingInputsError(f"this run cannot start (env '{env}'): {'; '.join(said)}.\n"
                                     + "\n".join(missing + unknown + bad))


class EngineHooks:
    """A Dask cluster started by a run's first engine step serves its later steps; it ends with the run."""

    @hook_impl
    def after_pipeline_run(self) -> None:
        from music_emotion.audio.engine import close_shared_clusters

        close_shared_clusters()

    @hook_impl
    def on_pipeline_error(self) -> None:
        from music_emotion.audio.engine import close_shared_clusters

        close_shared_clusters()
