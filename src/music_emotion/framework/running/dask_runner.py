"""`kedro run --runner music_emotion.runner.DaskRunner`: Kedro's Dask deployment, on the Kedro 1.7 API.

Kedro's published recipe does not run on 1.x (kedro-org/kedro #4657, #5233, #5774: `run()` returns a dict, the
catalog API it calls does not exist, memory outputs vanish in each task's catalog copy). Here every node is one
Dask future, submitted in dependency order with its parents' futures as arguments, so the scheduler starts a node
when its inputs exist and runs independent ones (the experiment's units) side by side:

- persisted datasets are read and written by the worker through the catalog, on storage every worker sees (a
  shared filesystem; object storage would need fsspec paths such as s3:// in the catalog and credentials on the
  workers); memory outputs travel back through the future to the nodes that need them;
- nodes that train (`train_arm`, `train_gan`) ask for `resources={"GPU": 1}` when the cluster's workers offer
  GPUs (dask-cuda's LocalCUDACluster: one worker per GPU), so N GPUs train N units at once; CPU clusters run
  them as any other node;
- a node whose worker dies is retried once (`retries=1`); a second failure stops the run with the node named;
- worker processes run the node-level project hooks that write files (lineage, half-saved versions); the driver
  replays each tracked output's save to its own hooks, so MLflow keeps one run with its curves and children.
"""

from __future__ import annotations

import logging
import pickle
import time
from collections import Counter
from dataclasses import dataclass
from itertools import chain
from typing import Any

import click
from kedro.pipeline import Pipeline
from kedro.runner import AbstractRunner, Task

from music_emotion.audio.engine import (
    WORKER_DEATH_RETRIES,
    EngineError,
    EngineParams,
    import_distributed,
    start_dask,
)

logger = logging.getLogger(__name__)

# node names (last part) that want one GPU each: single-split fits and the experiment's fit-and-record nodes
GPU_NODES = ("train_arm", "train_gan", "train_diffusion", "fit_and_record_arm", "fit_gan_and_record_arms",
             "fit_diffusion_and_record_arms")
_WORKER_HOOKS: list[Any] = []


class DaskRunError(click.ClickException):
    """A node failed on the cluster after its retry (or could not be sent to it); the message names it and says
    what to do. A `ClickException`, so `kedro run` prints it as one paragraph, not the cluster's traceback."""


def failure_message(node_name: str, exc: BaseException, retries: int) -> str:
    """One paragraph for a node that failed on the cluster: what happened, in words, and what to do."""
    kind = type(exc).__name__
    if kind == "KilledWorker":
        return (f"node {node_name} failed on the Dask cluster after {retries} retry: its worker process died each "
                "time (killed by Dask's memory guard when it passed the worker's memory limit, or a crash). Give "
                "workers more memory (fewer workers: dask.n_workers), or run it with the SequentialRunner")
    if isinstance(exc, pickle.PicklingError) or any(w in str(exc).lower() for w in ("pickle", "serialize")):
        return (f"node {node_name} cannot be sent to the Dask cluster: {kind}: {exc}. The DaskRunner ships each node "
                "with the catalog to a worker process, so every dataset it uses must be picklable; use a picklable "
                "dataset type, or run with the SequentialRunner")
    return f"node {node_name} failed on the Dask cluster after {retries} retry: {kind}: {exc}"


def _worker_hook_manager() -> Any:
    """Once per worker process: plain log lines, and a hook manager with the node-level project hooks (a
    PluginManager cannot be pickled, so the driver's cannot travel)."""
    from kedro.framework.hooks.manager import _create_hook_manager

    from music_emotion.framework.lineage_hook import LineageHook
    from music_emotion.framework.output.log_output import drop_task_counts, plain_when_not_a_terminal
    from music_emotion.framework.running.save_rollback import HalfSavedVersionHook

    if not _WORKER_HOOKS:
        # the worker's Kedro logging is Kedro's default (rich, wrapped at 80 columns into the run's log): plain lines,
        # as the driver writes them (settings.py is only imported by the driver)
        plain_when_not_a_terminal()
        drop_task_counts()
        manager = _create_hook_manager()
        for hook in (LineageHook(), HalfSavedVersionHook()):
            manager.register(hook)
        _WORKER_HOOKS.append(manager)
    return _WORKER_HOOKS[0]


@dataclass(frozen=True)
class Pickled:
    """A memory output as plain pickle bytes. Dask's own torch serializer cannot ship modules with parametrizations
    (the GAN's spectral norm); plain pickle uses the models' `__reduce__` (config + state dict), as
    ParallelRunner does."""

    payload: bytes

    @classmethod
    def of(cls, value: Any) -> Pickled:
        return cls(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    def value(self) -> Any:
        return pickle.loads(self.payload)  # noqa: S301 - bytes this run's own worker just wrote


def run_node_on_worker(node: Any, catalog: Any, run_id: str | None, memory_outputs: list[str],
                       *parents: tuple[str, dict[str, Pickled], str]) -> tuple[str, dict[str, Pickled], str]:
    """Run one node in a worker: its parents' memory outputs into this task's catalog copy, the node, and its
    own memory outputs back through the future, with where and how long it ran (for the driver's log)."""
    start = time.perf_counter()
    for _, produced, _ in parents:
        for name, data in produced.items():
            if name in node.inputs:
                catalog.save(name, data.value())
    Task(node=node, catalog=catalog, is_async=False, hook_manager=_worker_hook_manager(), run_id=run_id).execute()
    outputs = {name: Pickled.of(catalog.load(name)) for name in memory_outputs}
    return node.name, outputs, f"{time.perf_counter() - start:.1f} s on worker {_worker_name()}"


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except ValueError:  # not in a Dask worker (a direct call in a test)
        return "-"


def connect(dask_params: dict[str, Any]) -> tuple[Any, Any]:
    """(client, cluster or None): the engine's cluster (the scheduler at `dask.scheduler_address`, or a LocalCluster
    of `dask.n_workers` processes here), or a LocalCUDACluster when no address is set and dask-cuda and GPUs are
    present."""
    Client = import_distributed().Client
    params = EngineParams.from_params(dask_params)
    if not params.scheduler_address:
        try:
            import torch
            from dask_cuda import LocalCUDACluster

            if torch.cuda.is_available():
                cluster = LocalCUDACluster(resources={"GPU": 1}, threads_per_worker=1, dashboard_address=None)
                return Client(cluster), cluster
        except ImportError:
            pass
    try:
        return start_dask(params)
    except EngineError as exc:
        raise DaskRunError(str(exc)) from None


class DaskRunner(AbstractRunner):
    """Runs a pipeline's nodes as Dask futures (see the module docstring)."""

    def __init__(self, is_async: bool = False) -> None:
        super().__init__(is_async=is_async)
        self._retries = WORKER_DEATH_RETRIES

    def _get_executor(self, max_workers: int) -> None:  # abstract in Kedro 1.7; Dask is the executor
        return None

    def _run(self, pipeline: Pipeline, catalog: Any, hook_manager: Any = None, run_id: str | None = None) -> None:
        from music_emotion.framework.running.run_parameters import run_parameters

        as_completed = import_distributed().as_completed  # before any plain import, so conf's log level holds

        client, cluster = connect(run_parameters()["dask"])
        gpus = any(w.get("resources", {}).get("GPU") for w in client.scheduler_info()["workers"].values())
        nodes, parents = pipeline.nodes, pipeline.node_dependencies
        uses = Counter(chain.from_iterable(n.inputs for n in nodes))
        futures: dict[Any, Any] = {}
        by_name = {n.name: n for n in nodes}
        done: set[Any] = set()
        logger.info("Dask: %d nodes on %d workers%s", len(nodes), len(client.scheduler_info()["workers"]),
                    " with GPUs" if gpus else "")
        try:
            for node in nodes:  # topologically sorted: parents are submitted before their children
                memory = [name for name in node.outputs if _is_memory(catalog, name)]
                wants_gpu = gpus and node.name.rsplit(".", 1)[-1] in GPU_NODES
                try:
                    futures[node] = client.submit(run_node_on_worker, node, catalog, run_id, memory,
                                                  *[futures[p] for p in parents[node]], key=f"{node.name}-{run_id}",
                                                  pure=False, retries=self._retries,
                                                  resources={"GPU": 1} if wants_gpu else None)
                except Exception as exc:  # noqa: BLE001 - pickling a task fails in several types
                    raise DaskRunError(failure_message(node.name, exc, self._retries)) from exc
            for future in as_completed(list(futures.values())):
                name = _node_name(future)
                try:
                    name, produced, where = future.result()
                except Exception as exc:
                    self._suggest_resume_scenario(pipeline, done, catalog)
                    raise DaskRunError(failure_message(name, exc, self._retries)) from exc
                node = by_name[name]
                for output, data in produced.items():
                    if output in pipeline.outputs():
                        catalog.save(output, data.value())
                _replay_saves(node, catalog, hook_manager)
                _report_progress(node, produced, hook_manager)
                done.add(node)
                logger.info("Completed %d out of %d tasks (%s, %s)", len(done), len(nodes), name, where)
                self._release_datasets(node, catalog, uses, pipeline)
        finally:
            client.cancel(list(futures.values()))
            client.close()
            if cluster is not None:
                cluster.close()


def _node_name(future: Any) -> str:
    return str(future.key).rsplit("-", 1)[0]


def _is_memory(catalog: Any, name: str) -> bool:
    dataset = catalog.get(name, fallback_to_runtime_pattern=True)
    return bool(getattr(dataset, "_EPHEMERAL", False))


def _replay_saves(node: Any, catalog: Any, hook_manager: Any) -> None:
    """Persisted outputs were saved in a worker: the driver's tracking hook hears of the ones it records."""
    from music_emotion.framework.tracking.mlflow_run import TrackingHooks

    tracking = _driver_hook(hook_manager, TrackingHooks)
    for name in node.outputs:
        if tracking is not None and not _is_memory(catalog, name) and tracking.records(name):
            hook_manager.hook.after_dataset_saved(dataset_name=name, data=catalog.load(name), node=node)


def _report_progress(node: Any, produced: dict[str, Any], hook_manager: Any) -> None:
    """The experiment's bar lives in the driver: hand it the plan and each recorded result (small values only)."""
    from music_emotion.framework.output.experiment_progress import (
        FITTING_NODES,
        PLAN_NODE,
        ExperimentProgressHook,
    )

    progress = _driver_hook(hook_manager, ExperimentProgressHook)
    if progress is not None and node.name.rsplit(".", 1)[-1] in (PLAN_NODE, *FITTING_NODES):
        progress.node_finished(node.name, {name: data.value() for name, data in produced.items()})


def _driver_hook(hook_manager: Any, kind: type) -> Any:
    """The driver's registered project hook of `kind` (None without a hook manager or such a hook)."""
    plugins = (hook_manager.get_plugins() or ()) if hook_manager is not None else ()
    return next((plugin for plugin in plugins if isinstance(plugin, kind)), None)
