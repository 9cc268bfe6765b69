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
from collections.abc import Callable, Iterable, Iterator, Sequence
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


def _duration_words(seconds: float) -> str:
    return f"{seconds:,.0f} s" if seconds < 60 else f"{seconds / 60:,.1f} min"


def whole_files_seconds(paths: Iterable[str | os.PathLike[str]], enough: float) -> float:
    """The audio in `paths` from their headers (no decoding), summed until it reaches `enough` (auto's threshold):
    a library of thousands of files costs a few header reads, not one per file. Unreadable files count 0."""
    from music_emotion.audio.decoding import AudioDecodeError, audio_duration

    total = 0.0
    for path in paths:
        try:
            total += audio_duration(path)
        except (AudioDecodeError, OSError):
            continue
        if total >= enough:
            break
    return total


class FileEngine:
    """Context manager: `with FileEngine(params, n_items, seconds) as engine: for batch in engine.map_batches(...)`.

    `seconds_per_item` is the audio each item decodes (the stored span), for `auto`'s choice; work on whole files
    (inference) gives their measured `audio_seconds` instead (`whole_files_seconds`)."""

    def __init__(self, params: EngineParams, n_items: int, seconds_per_item: float,
                 audio_seconds: float | None = None) -> None:
        if params.engine not in ("dask", "single", "auto"):
            raise EngineError(f"dask.engine must be dask, single or auto, got '{params.engine}'")
        self.params = params
        audio = n_items * seconds_per_item if audio_seconds is None else audio_seconds
        if params.engine == "auto":
            use_dask = audio >= params.min_audio_seconds
            self.reason = (f"auto: {n_items} file(s), ~{_duration_words(audio)} of audio, "
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


def check_is_a_scheduler(params: EngineParams) -> None:
    """Ask whatever listens at `scheduler_address` for its identity, within `connect_timeout_s`. `Client` itself
    waits forever for a handshake when the port belongs to something else (an HTTP server accepts the connection
    and then waits for a request that never comes), so a wrong address would hang the run instead of failing."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from distributed.comm import connect

    address, seconds = params.scheduler_address, float(params.connect_timeout_s)

    async def identity() -> Any:
        comm = await asyncio.wait_for(connect(address, timeout=seconds), seconds)
        try:
            await asyncio.wait_for(comm.write({"op": "identity"}), seconds)
            return await asyncio.wait_for(comm.read(), seconds)
        finally:
            comm.abort()

    try:  # on a thread of its own: asyncio.run cannot start inside a caller's running loop (a notebook)
        with ThreadPoolExecutor(1) as thread:
            reply = thread.submit(asyncio.run, identity()).result()
    except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
        reason = f"did not answer within {seconds:g} s ({exc or 'no reply to the Dask handshake'})"
    except Exception as exc:  # noqa: BLE001 - a peer that speaks another protocol fails in many ways
        reason = f"answered, but not as a Dask scheduler ({type(exc).__name__}: {exc})"
    else:
        if isinstance(reply, dict) and reply.get("type") == "Scheduler":
            return
        reason = "answered, but is not a Dask scheduler"
    raise EngineError(
        f"the Dask scheduler at {address} {reason}. Start it (`dask scheduler`), fix dask.scheduler_address in "
        "conf/local/parameters.yml, or leave it null to run on a local cluster"
    )


def keep_default_malloc_trim() -> None:
    """Local workers keep glibc's default memory trimming. Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in every
    worker it spawns (`distributed.nanny.pre-spawn-environ`), so memory goes back to the OS sooner; for the many
    small tensors of a training loop it makes the same torch work 2.1x slower (a 2-layer MLP's 1,500 Adam steps on
    one thread: 13.1 s with it against 6.2 s without, in plain processes; docs/performance.md). That, not
    task placement, was why the DaskRunner lost to the ParallelRunner. A remote cluster's workers are its own."""
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    dask.config.set({"distributed.nanny.pre-spawn-environ": environ})


def start_dask(params: EngineParams) -> tuple[Any, Any]:
    """(client, local cluster or None): the scheduler at `scheduler_address` (one line within `connect_timeout_s`
    when it does not answer), else a LocalCluster of `n_workers` single-threaded processes here."""
    import dask

    distributed = import_distributed()
    Client, LocalCluster = distributed.Client, distributed.LocalCluster

    dask.config.set({"distributed.scheduler.allowed-failures": WORKER_DEATH_RETRIES})
    if params.scheduler_address:
        check_is_a_scheduler(params)
        try:
            client = Client(params.scheduler_address, timeout=f"{params.connect_timeout_s}s")
        except (OSError, TimeoutError) as exc:
            raise EngineError(
                f"the Dask scheduler at {params.scheduler_address} did not answer within "
                f"{params.connect_timeout_s:g} s "
                f"({exc}). Start it (`dask scheduler`), fix dask.scheduler_address in conf/local/parameters.yml, or "
                "leave it null to run on a local cluster"
            ) from None
        return client, None
    workers = params.n_workers or os.cpu_count() or 1
    keep_default_malloc_trim()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    return Client(cluster), cluster
