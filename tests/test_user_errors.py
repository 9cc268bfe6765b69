"""A run stopped by bad input ends with one paragraph (`Error: ...`, exit 1), a bug keeps its traceback."""

import errno

import click
import pytest
from kedro.io import DatasetError

from music_emotion.framework.checks.user_errors import RunStopped, UserErrorHook, user_message


@pytest.mark.parametrize("error, expected", [
    (ValueError("Annotation file 'x.csv' lacks required column(s) ['valence_mean']"), "lacks required column"),
    (DatasetError("Failed while loading data from dataset CSVDataset(...)"), "Failed while loading"),
    (OSError(errno.ENOSPC, "No space left on device", "data/08_reporting/x.png"), "No space left on device"),
])
def test_user_errors_become_one_paragraph(error, expected):
    with pytest.raises(RunStopped) as caught:
        UserErrorHook().on_pipeline_error(error=error, run_params={})
    assert isinstance(caught.value, click.ClickException) and expected in caught.value.message
    assert "\n" not in caught.value.message.split("\n(the traceback")[0]


def test_a_bug_keeps_its_traceback():
    assert user_message(TypeError("unsupported operand")) is None
    UserErrorHook().on_pipeline_error(error=KeyError("x"), run_params={})  # returns: Kedro re-raises the original
