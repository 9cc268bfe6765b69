"""Plain, unwrapped log lines when the output is not a terminal.

Kedro's rich handler wraps every record at 80 columns when it writes to a file or a pipe (`kedro run > run.log`,
CI, `tee`), splitting messages and paths over several lines. Kedro builds its handlers before it reads the project
(and accepts no handler class of ours in conf/logging.yml), so `settings.py` swaps, once, each rich handler that
writes to something other than a terminal for a plain `StreamHandler` on the same stream and level. In a terminal
nothing changes.

Kedro's runners also log "Completed 12 out of 30 tasks" after every node, next to "Running node: ..." and
"Completed node: ...": a third line per node that says nothing the other two do not. `drop_task_counts` filters that
one message (by its exact wording, on every root handler) so the first run's log stays short enough to read.
"""

from __future__ import annotations

import logging
import re

PLAIN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def plain_when_not_a_terminal(logger: logging.Logger | None = None) -> int:
    """Replace `logger`'s (default: root) rich handlers whose console is not a terminal; returns how many."""
    logger = logger or logging.getLogger()
    replaced = 0
    for handler in list(logger.handlers):
        console = getattr(handler, "console", None)
        if console is None or console.is_terminal:
            continue
        plain = logging.StreamHandler(console.file)
        plain.setLevel(handler.level)
        plain.setFormatter(logging.Formatter(PLAIN_FORMAT))
        for log_filter in handler.filters:
            plain.addFilter(log_filter)
        logger.removeHandler(handler)
        logger.addHandler(plain)
        replaced += 1
    return replaced


class TaskCountFilter(logging.Filter):
    """Drops Kedro's "Completed N out of M tasks" records; every other record passes."""

    PATTERN = re.compile(r"^Completed \d+ out of \d+ tasks$")

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("kedro.runner") and self.PATTERN.match(record.getMessage()))


def drop_task_counts(logger: logging.Logger | None = None) -> int:
    """Add a `TaskCountFilter` to each handler of `logger` (default: root) that has none; returns how many."""
    logger = logger or logging.getLogger()
    added = 0
    for handler in logger.handlers:
        if not any(isinstance(existing, TaskCountFilter) for existing in handler.filters):
            handler.addFilter(TaskCountFilter())
            added += 1
    return added
