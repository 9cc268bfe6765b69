"""A run stopped by the user's input ends with one paragraph, not a 300-line traceback.

Our nodes and datasets raise `ValueError`/`FileNotFoundError` (or Kedro wraps them in `DatasetError`) with a
message that names the file or parameter and what to do; a full disk or a refused permission is an `OSError`.
For those, `kedro run` prints the message as `Error: ...` (a `click.ClickException`, which Kedro's CLI shows
without a traceback) and exits 1; the traceback still goes to the log at DEBUG, and `MUSIC_EMOTION_TRACEBACK=1`
leaves the error to Kedro, which prints its traceback. Anything else (a bug: TypeError, KeyError, ...) keeps its
traceback: we want those reported.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import click
from kedro.framework.hooks import hook_impl
from kedro.io import DatasetError

logger = logging.getLogger(__name__)
USER_ERRORS = (ValueError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, DatasetError)


class RunStopped(click.ClickException):
    """The run stopped on the user's input; the message says what to change."""


def user_message(error: BaseException) -> str | None:
    """One paragraph for an error the user can act on, else None (a bug keeps its traceback)."""
    if isinstance(error, OSError) and error.errno is not None and error.strerror and not isinstance(error, USER_ERRORS):
        return (f"{error.strerror} ({error.filename or 'while writing'}): free space or fix the permissions, "
                "then run again")
    if not isinstance(error, USER_ERRORS):
        return None
    cause = error.__cause__ if isinstance(error, DatasetError) and error.__cause__ else error
    text = " ".join(str(error).split()) or type(error).__name__
    if cause is not error and str(cause) and str(cause) not in text:
        text += f" ({' '.join(str(cause).split())})"
    return text


class UserErrorHook:
    # Last of all `on_pipeline_error` hooks: raising stops pluggy's loop, and tracking, the save rollback and the
    # engine must close their run first.
    @hook_impl(trylast=True)
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any]) -> None:
        message = user_message(error)
        if message is None or os.environ.get("MUSIC_EMOTION_TRACEBACK"):
            return
        logger.debug("The run stopped on", exc_info=error)
        raise RunStopped(f"the run stopped: {message}\n(the traceback: set MUSIC_EMOTION_TRACEBACK=1)")
