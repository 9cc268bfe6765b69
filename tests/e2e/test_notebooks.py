"""Every notebook in notebooks/ runs headless, top to bottom, on the demo run; outputs stay out of git."""

from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import PROJECT, subprocess_env

NOTEBOOKS = sorted((PROJECT / "notebooks").glob("*.ipynb"))


def test_there_is_a_notebook():
    assert any(n.name == "explore_results.ipynb" for n in NOTEBOOKS)


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_has_no_outputs(source):
    notebook = nbformat.read(source, as_version=4)
    dirty = [i for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count)]
    assert not dirty, f"{source.name}: clear the outputs of cells {dirty} before committing"


@pytest.mark.slow
@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_on_the_demo_run(source, demo_project, monkeypatch):
    """Run the copy in the demo project's notebooks/ folder, so `%load_ext kedro.ipython` finds that project."""
    copy = demo_project.path / "notebooks" / source.name
    notebook = nbformat.read(source, as_version=4)
    for key, value in subprocess_env().items():  # the kernel inherits this process's environment
        if os.environ.get(key) != value:
            monkeypatch.setenv(key, value)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(copy.parent)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    nbformat.write(notebook, demo_project.path / "notebooks" / f"executed_{source.name}")

    text = "\n".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )
    assert "max |difference| to the stored spectrogram" in text
    images = [o for cell in notebook.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3, "the notebook should show the spectrogram, a stored figure and a re-drawn one"
