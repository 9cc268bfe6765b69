"""The console side of a long step: one progress bar, off when MUSIC_EMOTION_NO_PROGRESS is set.

Kept apart from `models.runtime` (torch) so that audio decoding can show progress without importing torch.
In a terminal the bar is tqdm's; written to a file or a pipe (`kedro run > run.log`), a bar's carriage returns
would pile up into one line of many thousand characters, so a few plain lines say how far the step is instead.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

PLAIN_STEPS = 4  # lines a step writes to a non-terminal: at each quarter


def show_progress() -> bool:
    """Progress bars unless MUSIC_EMOTION_NO_PROGRESS is set (tests and CI logs stay readable)."""
    return not os.environ.get("MUSIC_EMOTION_NO_PROGRESS")


class PlainProgress:
    """tqdm's `update` / `close` for a non-terminal: one line at each quarter of the work, none in between."""

    def __init__(self, total: int, desc: str, unit: str, stream: TextIO) -> None:
        self.total, self.desc, self.unit, self.stream = total, desc, unit, stream
        self.done, self._said = 0, 0

    def update(self, n: int = 1) -> None:
        self.done += n
        quarter = (PLAIN_STEPS * self.done) // self.total if self.total else PLAIN_STEPS
        if quarter > self._said:
            self._said = quarter
            print(f"{self.desc}: {self.done}/{self.total} {self.unit} ({100 * self.done // max(self.total, 1)} %)",
                  file=self.stream, flush=True)

    def set_postfix_str(self, text: str) -> None:
        """The latest state, shown with the next line."""
        self.desc = self.desc.split(" [", 1)[0] + f" [{text}]"

    def close(self) -> None:
        """Nothing to clear: every line already ended."""


def progress_bar(total: int, desc: str, unit: str = "it") -> Any:
    """The one progress bar of a long step (tqdm in a terminal, plain lines otherwise; off when
    MUSIC_EMOTION_NO_PROGRESS is set)."""
    from tqdm.auto import tqdm

    if show_progress() and not sys.stderr.isatty():
        return PlainProgress(total, desc, unit, sys.stderr)
    return tqdm(total=total, desc=desc, unit=unit, disable=not show_progress(), dynamic_ncols=True)
