"""Where per-file work runs: Dask distributed (a local cluster sized to the machine, or a team's scheduler) or,
for tiny inputs and tests, this one process. Both run the same per-file function on the same inputs, so they
give the same results; only throughput differs.

`auto` chooses from the work at hand: Dask pays once the audio to decode exceeds `min_audio_seconds` (the measured
crossover where a cold LocalCluster's start is earned back; `benchmarks/bench_extraction.py --crossover`), and the
choice and its reason are one log line. A cluster, once started, serves every later step of the same process (the
log-mel and the AST features of one run share it) until `close_shared_clusters()` (the run's end, or exit).

`FileEngine.map_batches` submits the next batch before handing back the current one, so decoding on the
workers overlaps the model on the client. A file whose task raises, or whose worker dies twice, comes back as
an `EngineFailure` with the reason: one bad file never stops the others.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


WORKER_DEATH_RETRIES = 1  # a task whose worker dies runs once more elsewhere, then fails with its name


class EngineError(RuntimeError):
    """The engine cannot start as configured; the message says what to change."""


@dataclass(frozen=True)
class EngineFailure:
    """One item's task failed: `reason` says why (its exception, or its worker died twice)."""

    reason: str


@dataclass(frozen=True)
class EngineParams:
    """`dask` in conf/base/parameters.yml."""

    engine: str                    # "dask", "single" or "auto" (dask from `min_audio_seconds` of audio on)
    scheduler_address: str | None  # an existing scheduler (tcp://host:8786); None = a LocalCluster here
    n_workers: int | None          # LocalCluster workers; None = one per core
    connect_timeout_s: float
    min_audio_seconds: float       # auto: below this much audio, one process is faster than starting a cluster

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> EngineParams:
        from music_emotion.config import from_section

        return from_section(cls, params, "dask", "conf/base/parameters.yml")


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return "the worker processing this file died twice (out of memory, or a crash in a decoder)"
    return f"{name}: {exc}"


class FileEngine:
    """Context manager: `with FileEngine(params, n_items, seconds) as engine: for batch in engine.map_batches(...)`.

    `seconds_per_item` is the audio each item decodes (the stored span), for `auto`'s choice."""

    def __init__(self, params: EngineParams, n_items: int, seconds_per_item: float) -> None:
        if params.engine not in ("dask", "single", "auto"):
            raise EngineError(f"dask.engine must be dask, single or auto, got '{params.engine}'")
        self.params = params
        audio = n_items * seconds_per_item
        if params.engine == "auto":
            use_dask = audio >= params.min_audio_seconds
            self.reason = (f"auto: {n_items} file(s), ~{audio / 60:,.0f} min of audio, "
                           f"{'at or above' if use_dask else 'below'} the {params.min_audio_seconds / 60:,.0f} min "
                           "where a cluster pays (dask.min_audio_seconds)")
        else:
            use_dask = params.engine == "dask"
            self.reason = f"dask.engine: {params.engine}"
        self.kind = "dask" if use_dask else "single"
        self._client: Any = None

    def __enter__(self) -> FileEngine:
        if self.kind == "dask":
            self._client = _shared_client(self.params)
        logger.info("Decoding on %s (%s)", self.description, self.reason)
        return self

    def __exit__(self, *exc: Any) -> None:
        """The cluster stays up for the next step of the run (see `close_shared_clusters`)."""

    @property
    def client_threads(self) -> int | None:
        """CPU threads left to this process's own work (the model) beside local Dask workers; None = unchanged."""
        if self.kind != "dask" or self.params.scheduler_address:
            return None
        cores = os.cpu_count() or 1
        return max(1, cores - len(self._client.scheduler_info().get("workers", {})))

    @property
    def description(self) -> str:
        if self.kind == "single":
            return "one process"
        workers = len(self._client.scheduler_info().get("workers", {}))
        where = self.params.scheduler_address or "a local cluster"
        return f"Dask ({where}, {workers} worker(s))"

    def map_batches(self, func: Callable[..., Any], batches: Sequence[Sequence[Any]],
                    *args: Any) -> Iterator[list[Any]]:
        """`[func(item, *args) or EngineFailure for item in batch]` for each batch, in order."""
        if self.kind == "single":
            for batch in batches:
                yield [_call(func, item, *args) for item in batch]
            return
        scattered = [self._client.scatter(a, broadcast=True) if not isinstance(a, str | int | float) else a
                     for a in args]
        pending = self._submit(func, batches[0], scattered) if batches else None
        for index in range(len(batches)):
            current = pending
            pending = self._submit(func, batches[index + 1], scattered) if index + 1 < len(batches) else None
            yield [self._result(future) for future in current]

    def _submit(self, func: Callable[..., Any], batch: Sequence[Any], args: list[Any]) -> list[Any]:
        return self._client.map(func, list(batch), *[[a] * len(batch) for a in args], pure=False, retries=1)

    @staticmethod
    def _result(future: Any) -> Any:
        try:
            return future.result()
        except Exception as exc:  # noqa: BLE001 - reported per file, the run goes on
            return EngineFailure(_describe(exc))


def _call(func: Callable[..., Any], item: Any, *args: Any) -> Any:
    try:
        return func(item, *args)
    except Exception as exc:  # noqa: BLE001 - reported per file, the run goes on
        return EngineFailure(_describe(exc))


_SHARED: dict[EngineParams, tuple[Any, Any]] = {}


def _shared_client(params: EngineParams) -> Any:
    """This process's client for `params`, started on first use (one cluster per run, however many steps)."""
    if params not in _SHARED:
        _SHARED[params] = start_dask(params)
    return _SHARED[params][0]


def close_shared_clusters() -> None:
    """Close every client and local cluster this process started (a hook calls it at the end of each run)."""
    while _SHARED:
        _, (client, cluster) = _SHARED.popitem()
        client.close()
        if cluster is not None:
            cluster.close()


atexit.register(close_shared_clusters)


def import_distributed() -> Any:
    """`distributed`, imported without it overriding the project's log levels.

    Importing distributed configures logging from dask's config: it sets the `distributed` logger to INFO, undoing
    the level conf/logging.yml gave it when Kedro started (the scheduler and nannies then fill a run's log with
    their life cycle). The level in force before the first import is put back.
    """
    if "distributed" in sys.modules:
        return sys.modules["distributed"]
    logger = logging.getLogger("distributed")
    level, propagate = logger.level, logger.propagate
    import distributed

    logger.setLevel(level)
    logger.propagate = propagate
    return distributed


def start_dask(params: EngineParams) -> tuple[Any, Any]:
    """(client, local cluster or None): the scheduler at `scheduler_address` (one line within `connect_timeout_s`
    when it does not answer), else a LocalCluster of `n_workers` single-threaded processes here."""
    import dask

    distributed = import_distributed()
    Client, LocalCluster = distributed.Client, distributed.LocalCluster

    dask.config.set({"distributed.scheduler.allowed-failures": WORKER_DEATH_RETRIES})
    if params.scheduler_address:
        try:
            client = Client(params.scheduler_address, timeout=f"{params.connect_timeout_s}s")
        except (OSError, TimeoutError) as exc:
            raise EngineError(
                f"the Dask scheduler at {params.scheduler_address} did not answer within {params.connect_timeout_s:g} s "
                f"({exc}). Start it (`dask scheduler`), fix dask.scheduler_address in conf/local/parameters.yml, or "
                "leave it null to run on a local cluster"
            ) from None
        return client, None
    workers = params.n_workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    return Client(cluster), cluster
