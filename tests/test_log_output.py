"""Log lines written to a file or a pipe are plain and unwrapped; a terminal keeps Kedro's rich output."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap

import pytest
from kedro.logging import RichHandler
from rich.console import Console

from music_emotion.framework.output.log_output import drop_task_counts, plain_when_not_a_terminal

LONG = "a message longer than eighty columns " * 5


def _logger(name: str, console: Console) -> tuple[logging.Logger, io.StringIO]:
    logger = logging.getLogger(name)
    logger.handlers.clear()
    logger.propagate = False
    handler = RichHandler(console=console)
    handler.setLevel(logging.INFO)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger, console.file


def test_a_pipe_gets_one_plain_line_per_record():
    logger, stream = _logger("test.log_output.pipe", Console(file=io.StringIO(), force_terminal=False))
    assert plain_when_not_a_terminal(logger) == 1
    logger.info(LONG)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].endswith(LONG) and " INFO    test.log_output.pipe: " in lines[0]
    assert logger.handlers[0].level == logging.INFO


def test_a_terminal_keeps_the_rich_handler():
    logger, stream = _logger("test.log_output.tty", Console(file=io.StringIO(), force_terminal=True, width=80))
    assert plain_when_not_a_terminal(logger) == 0
    assert isinstance(logger.handlers[0], RichHandler)
    logger.info(LONG)
    assert len(stream.getvalue().splitlines()) > 1  # rich wraps in a terminal, as it should


def test_kedros_task_counter_is_dropped_and_everything_else_kept():
    logger, stream = _logger("test.log_output.counts", Console(file=io.StringIO(), force_terminal=False))
    plain_when_not_a_terminal(logger)
    assert drop_task_counts(logger) == 1 and drop_task_counts(logger) == 0  # once per handler
    runner = logging.Logger("kedro.runner.sequential_runner")  # named as Kedro's runner, unregistered ...
    runner.parent = logger  # ... and propagating to the test's handler
    runner.info("Completed %d out of %d tasks", 3, 30)
    runner.info("Completed node: %s", "train_gan")
    logger.info("Completed 3 out of 30 tasks")  # the same words from anyone else are kept
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].endswith("Completed node: train_gan")


@pytest.mark.slow  # a LocalCluster in a fresh interpreter: ~5 s
def test_starting_a_local_cluster_keeps_the_projects_distributed_log_level():
    """conf/logging.yml quiets `distributed`; importing it later (the first LocalCluster) must not undo that."""
    script = textwrap.dedent(
        """
        import logging, sys
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s: %(message)s")
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        from music_emotion.audio.engine import EngineParams, start_dask
        client, cluster = start_dask(EngineParams("dask", None, 1, 5, 0))
        client.close(); cluster.close()
        logging.getLogger("music_emotion").info("cluster closed")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "music_emotion: cluster closed" in result.stdout
    chatter = [line for line in result.stdout.splitlines() if line.startswith("distributed")]
    assert chatter == []


def test_a_progress_bar_into_a_file_is_a_few_plain_lines(monkeypatch, capsys):
    from music_emotion.console import PLAIN_STEPS, progress_bar

    monkeypatch.delenv("MUSIC_EMOTION_NO_PROGRESS", raising=False)
    bar = progress_bar(total=1000, desc="clips", unit="clip")  # pytest's captured stderr is no terminal
    for step in range(1000):
        if step == 900:
            bar.set_postfix_str("val CCC 0.5")
        bar.update(1)
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == PLAIN_STEPS and "\r" not in "".join(lines)
    assert lines[0] == "clips: 250/1000 clip (25 %)" and lines[-1].startswith("clips [val CCC 0.5]: 1000/1000")
