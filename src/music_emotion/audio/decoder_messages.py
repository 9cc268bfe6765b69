"""The C decoders' own stderr chatter, captured instead of printed between our log lines.

libmpg123 (inside libsndfile) writes notes such as "Note: Trying to resync..." straight to file descriptor 2,
below Python, so no warnings filter or logger sees them. Decoding runs inside `decoder_messages()`, which points
fd 2 at a temporary file for the duration of the call and hands back the lines; `audio.decode_audio` turns the
ones that matter (damaged data skipped) into one warning naming the file, and drops the rest.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def decoder_messages() -> Iterator[list[str]]:
    """Capture what C code writes to stderr inside the block; the list is filled when the block ends."""
    lines: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (an embedding host): leave stderr alone
        yield lines
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            lines.extend(line.strip() for line in text.splitlines() if line.strip())


def skipped_data(lines: list[str]) -> str:
    """What the decoder said it skipped ("Skipped 416 bytes in input"), "" when it skipped nothing."""
    return "; ".join(line.removeprefix("Note: ") for line in lines if "skipped" in line.lower())
