"""One library run at a time per (input folder, model): a second terminal or a cron job waits, then resumes.

Unlocked, two runs of the same folder and model would compute every file twice, and the first one would summarise
the other's half-written run folder. So the inference run holds an exclusive lock (`fcntl.flock` on a file named
after the run identity, in the system's temporary folder) from `predict_library` until `summarise_library` has
finished; a second run waits for it, re-reads what is already predicted (the parts it loaded before waiting are
stale) and does only what is left, usually nothing. Both runs then summarise the same, complete run folder, every
file once. The lock is per machine: runs on several machines over a shared folder are not coordinated.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from music_emotion.serving.library import run_identity

logger = logging.getLogger(__name__)
FIRST, LAST = "predict_library", "summarise_library"


def lock_path(identity: str) -> Path:
    return Path(tempfile.gettempdir()) / f"music_emotion-library-{identity}.lock"


class LibraryLock:
    """The exclusive lock of one run identity, held by this process until `release`."""

    def __init__(self, identity: str) -> None:
        self.path = lock_path(identity)
        self._handle = self.path.open("a+")

    def acquire(self) -> None:
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("Another run is predicting this folder with this model; waiting for it to finish, then "
                        "doing only what it left (%s)", self.path)
            fcntl.flock(self._handle, fcntl.LOCK_EX)
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(str(os.getpid()))
        self._handle.flush()

    def release(self) -> None:
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


class LibraryLockHook:
    def __init__(self) -> None:
        self._held: LibraryLock | None = None

    @hook_impl
    def before_node_run(self, node: Any, catalog: Any, inputs: dict[str, Any]) -> dict[str, Any] | None:
        if node.name != FIRST:
            return None
        self._held = LibraryLock(run_identity(inputs["inference_audio"], inputs["inference_model"]))
        self._held.acquire()
        return {"library_predictions_done": catalog.load("library_predictions_done")}  # fresh, under the lock

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        if node.name == LAST:
            self._release()

    @hook_impl
    def on_node_error(self) -> None:
        self._release()

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._release()

    def _release(self) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None
