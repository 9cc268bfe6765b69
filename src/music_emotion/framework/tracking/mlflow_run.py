"""Experiment tracking: every `kedro run` is one MLflow run, through kedro-mlflow, with our curves and files.

kedro-mlflow's own hook is switched off in `settings.py` (`DISABLE_HOOKS_FOR_PLUGINS`) and driven from here, so
that the project decides, before MLflow is even imported:
- whether to track at all (`tracking.enabled`, e.g. `kedro run --params tracking.enabled=false`: no run, no store);
- where the local store lives: `sqlite:///mlruns/mlflow.db` in `conf/base/mlflow.yml` is made relative to the
  project, not to the shell's current folder;
- that an http(s) tracking server which does not answer stops the run within seconds, before any node, with a
  message saying what to do (MLflow's own retries would wait ~4 minutes);
- that a runner which would split one Kedro run over several MLflow runs is refused with a clear message.

What gets logged besides kedro-mlflow's parameters is data (`conf/base/parameters_tracking.yml`): when a catalog
output is saved, `tracking_records` turns it into metric curves, final metrics, experiment child runs or artefact
files. A failure to log warns once and never costs a catalog output.
"""

from __future__ import annotations

import atexit
import copy
import logging
import signal
import threading
import warnings
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from music_emotion.framework.checks.dependency_warnings import MLFLOW_TYPE_HINT_ADVICE
from music_emotion.framework.running.kedro_internals import mlflow_run_was_already_active, save_path
from music_emotion.framework.tracking.records import (
    experiment_children,
    history_metrics,
    matching,
    namespace_of,
    report_metrics,
)
from music_emotion.framework.tracking.setup import (
    check_runner,
    check_server,
    default_artifact_location,
    project_relative_uri,
)

logger = logging.getLogger(__name__)
BATCH = 1000  # MLflow accepts at most 1,000 metrics per log_batch call


def _import_mlflow_hook() -> type:
    """kedro-mlflow's hook class, imported without mlflow's type-hint advice (see `dependency_warnings`) when this
    is the first import of kedro-mlflow in the process (a notebook, a test); any other warning is passed on."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook
    for warning in caught:
        if MLFLOW_TYPE_HINT_ADVICE not in str(warning.message):
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return MlflowHook


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")


class TrackingHooks:
    """Drives kedro-mlflow's `MlflowHook` when `tracking.enabled`, and logs saved outputs as configured."""

    def __init__(self) -> None:
        self._mlflow_hook: Any = None
        self._settings: dict[str, Any] = {}
        self._catalog: Any = None
        self._project_path = Path.cwd()
        self._broken = False
        self._previous_sigterm: Any = None
        self._exit_guard = False

    @property
    def active(self) -> bool:
        return self._mlflow_hook is not None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        self._settings = context.config_loader["parameters"]["tracking"]  # not context.params: see run_parameters
        self._mlflow_hook, self._broken, self._project_path = None, False, Path(context.project_path)
        if not self._settings["enabled"]:
            logger.info("Tracking is off (tracking.enabled=false): no MLflow run, nothing written to a store")
            return
        config = copy.deepcopy(dict(context.config_loader["mlflow"]))
        server = config.setdefault("server", {})
        server["mlflow_tracking_uri"] = project_relative_uri(server.get("mlflow_tracking_uri"), context.project_path)
        check_server(server["mlflow_tracking_uri"], float(self._settings["server_timeout_s"]), context.env)
        default_artifact_location(config)
        context.config_loader["mlflow"] = config
        self._store = server["mlflow_tracking_uri"]
        self._mlflow_hook = _import_mlflow_hook()()
        # kedro_mlflow sets its own logger to INFO on import, over conf/logging.yml; our hook logs what matters
        logging.getLogger("kedro_mlflow").setLevel(logging.getLevelName(self._settings["plugin_log_level"]))
        self._guarded("opening the store", self._mlflow_hook.after_context_created, context=context)

    @hook_impl
    def after_catalog_created(self, catalog: Any, conf_catalog: Any, conf_creds: Any, parameters: Any,
                              save_version: str, load_versions: Any) -> None:
        self._catalog = catalog
        if self.active:
            self._guarded("reading the catalog", self._mlflow_hook.after_catalog_created,
                          catalog=catalog, conf_catalog=conf_catalog, conf_creds=conf_creds, parameters=parameters,
                          save_version=save_version, load_versions=load_versions)

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if not self.active:
            return
        check_runner(str(run_params.get("runner", "")))
        names = "+".join(run_params.get("pipeline_names") or ["__default__"])
        self._mlflow_hook.mlflow_config.tracking.run.name = f"{names} ({run_params.get('env') or 'local'})"
        self._guarded("starting the run", self._mlflow_hook.before_pipeline_run, run_params=run_params,
                      pipeline=pipeline, catalog=catalog)
        if self.active:
            import mlflow

            run = mlflow.active_run()
            if run is not None:
                logger.info("Tracking as MLflow run '%s' (%s) in %s: `kedro mlflow ui` shows it", run.info.run_name,
                            run.info.run_id, self._store)
        if self.active:  # a kill (SIGTERM) or Ctrl-C marks the run KILLED instead of leaving it RUNNING/FINISHED
            if threading.current_thread() is threading.main_thread():
                self._previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
            if not self._exit_guard:  # after mlflow's own exit handler (which ends a run FINISHED), so it runs first
                atexit.register(self._end_if_running, "KILLED")
                self._exit_guard = True

    @hook_impl
    def before_node_run(self, node: Any, catalog: Any, inputs: dict[str, Any], is_async: bool) -> None:
        if self.active:
            self._guarded("logging a node's parameters", self._mlflow_hook.before_node_run, node=node,
                          catalog=catalog, inputs=inputs, is_async=is_async)

    def records(self, name: str) -> bool:
        """Whether a save of `name` would be logged (a runner that saved it elsewhere replays only these)."""
        if not self.active or self._broken:
            return False
        settings = self._settings
        return any(matching(name, settings[kind]) for kind in ("metric_histories", "final_metrics",
                                                                 "experiment_units", "artifacts"))

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        if not self.active or self._broken:
            return
        try:
            self._record(dataset_name, data)
        except Exception as exc:  # noqa: BLE001 - tracking must never cost a catalog output
            self._broken = True
            logger.warning("MLflow tracking failed while logging %s (%s: %s); the run goes on and every catalog "
                           "output is saved as usual, but nothing more is logged to MLflow in this run",
                           dataset_name, type(exc).__name__, exc)

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if self.active:
            self._guarded("ending the run", self._mlflow_hook.after_pipeline_run, run_params=run_params,
                          pipeline=pipeline, catalog=catalog)
        if self.active:
            self._close_leftover_runs("FINISHED")
        self._restore_sigterm()

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        if self.active:
            self._guarded("ending the run", self._mlflow_hook.on_pipeline_error, error=error, run_params=run_params,
                          pipeline=pipeline, catalog=catalog)
        if self.active:
            self._close_leftover_runs("KILLED" if isinstance(error, KeyboardInterrupt) else "FAILED")
        self._restore_sigterm()

    def _restore_sigterm(self) -> None:
        if self._previous_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous_sigterm)
        self._previous_sigterm = None

    def _guarded(self, what: str, call: Any, **kwargs: Any) -> None:
        """A store that cannot be used (a garbage or locked mlflow.db, a read-only or misplaced mlruns/) turns
        tracking off for this run with one warning; the run itself and every catalog output go on."""
        try:
            call(**kwargs)
        except Exception as exc:  # noqa: BLE001 - tracking never costs a run
            self._mlflow_hook = None
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            logger.warning(
                "MLflow tracking is off for this run: %s failed at the store %s (%s: %s). Every catalog output is "
                "saved as usual. Repair or move that store (or set server.mlflow_tracking_uri in conf/local/"
                "mlflow.yml), or run with --params tracking.enabled=false to skip tracking without this warning",
                what, getattr(self, "_store", "?"), type(exc).__name__, first)

    def _end_if_running(self, status: str) -> None:
        if self.active:
            import mlflow

            while mlflow.active_run():
                mlflow.end_run(status)

    def _close_leftover_runs(self, status: str) -> None:
        """kedro-mlflow re-enters the run in every node and ends it once: without this, the next session in
        the same process (a notebook, a test) would silently log into the finished run."""
        import mlflow

        if not mlflow_run_was_already_active(self._mlflow_hook):
            while mlflow.active_run():
                mlflow.end_run(status)

    # ------------------------------------------------------------------------------------------ logging
    def _record(self, name: str, data: Any) -> None:
        import mlflow

        settings, run = self._settings, mlflow.active_run()
        if run is None:
            return
        if pattern := matching(name, settings["metric_histories"]):
            points = history_metrics(data, settings["metric_histories"][pattern], namespace_of(name, pattern))
            self._log_points(run.info.run_id, points)
        if pattern := matching(name, settings["final_metrics"]):
            mlflow.log_metrics(report_metrics(data, settings["final_metrics"][pattern]))
        if matching(name, settings["experiment_units"]):
            self._log_children(run, data)
        if pattern := matching(name, settings["artifacts"]):
            self._log_files(name, settings["artifacts"][pattern])

    @staticmethod
    def _log_points(run_id: str, points: list[tuple[str, float, int]]) -> None:
        import time

        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient

        now, client = int(time.time() * 1000), MlflowClient()
        metrics = [Metric(key, value, now, step) for key, value, step in points]
        for start in range(0, len(metrics), BATCH):
            client.log_batch(run_id, metrics=metrics[start : start + BATCH], synchronous=True)

    @staticmethod
    def _log_children(parent: Any, experiment_metrics: Any) -> None:
        import mlflow

        for child in experiment_children(experiment_metrics):
            with mlflow.start_run(run_name=child.name, nested=True, experiment_id=parent.info.experiment_id):
                mlflow.log_params(child.params)
                mlflow.set_tags(child.params)
                mlflow.log_metrics(child.metrics)

    def _log_files(self, name: str, folder: str) -> None:
        """Copy the version of `name` this run saved (a file or a model folder) into the run's artefacts."""
        import mlflow

        dataset = self._catalog.get(name)
        saved = save_path(dataset)
        if saved.is_dir():
            mlflow.log_artifacts(str(saved), artifact_path=f"{folder}/{name}")
        else:
            mlflow.log_artifact(str(saved), artifact_path=folder)
        if saved.is_relative_to(self._project_path):  # a reference to the catalog version, never a machine path
            saved = saved.relative_to(self._project_path)
        mlflow.set_tag(f"catalog.{name}", saved.as_posix())
