"""The console side of a long step: one progress bar, off when MUSIC_EMOTION_NO_PROGRESS is set.

Kept apart from `models.runtime` (torch) so that audio decoding can show progress without importing torch.
"""

from __future__ import annotations

import os


def show_progress() -> bool:
    """Progress bars unless MUSIC_EMOTION_NO_PROGRESS is set (tests and CI logs stay readable)."""
    return not os.environ.get("MUSIC_EMOTION_NO_PROGRESS")


def progress_bar(total: int, desc: str, unit: str = "it"):
    """The one progress bar of a long step (tqdm; off when MUSIC_EMOTION_NO_PROGRESS is set)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not show_progress(), dynamic_ncols=True)
