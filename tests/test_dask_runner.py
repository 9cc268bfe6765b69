"""`music_emotion.runner.DaskRunner` on a real LocalCluster: same results as the SequentialRunner, a killed worker
is retried once and then reported with its node, an unreachable scheduler fails within seconds."""

from __future__ import annotations

import math
import time
from functools import partial

import pytest
from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline
from kedro.runner import SequentialRunner
from kedro_datasets.pickle import PickleDataset

from music_emotion.framework.running import run_parameters
from music_emotion.framework.running.dask_runner import DaskRunError
from music_emotion.runner import DaskRunner
from tests import dask_nodes
from tests.conf_params import parameters


@pytest.fixture
def dask_params(monkeypatch):
    params = dict(run_parameters.run_parameters())
    params["dask"] = parameters("dask", n_workers=2, connect_timeout_s=2)
    monkeypatch.setitem(run_parameters._current, "parameters", params)
    return params["dask"]


def pipeline_and_catalog(tmp_path, extra: list[Node] = ()):
    catalog = DataCatalog({"doubled": PickleDataset(filepath=str(tmp_path / "doubled.pkl"))})
    catalog["params:n"] = 5
    nodes = [Node(dask_nodes.make, "params:n", "raw", name="make"),
             Node(dask_nodes.double, "raw", "doubled", name="double"),
             Node(dask_nodes.total, ["doubled", "raw"], "total", name="total"), *extra]
    return Pipeline(nodes), catalog


@pytest.mark.parametrize("runner", ["sequential", "dask"])
def test_the_dask_runner_gives_what_the_sequential_runner_gives(tmp_path, dask_params, runner):
    pipeline, catalog = pipeline_and_catalog(tmp_path)
    chosen = DaskRunner() if runner == "dask" else SequentialRunner()
    chosen.run(pipeline, catalog)
    assert catalog.load("total") == 30.0  # 2 * (0+1+2+3+4) + (0+1+2+3+4)
    assert catalog.load("doubled").tolist() == [0, 2, 4, 6, 8]  # written by a worker, read back from disk here


@pytest.mark.slow  # a worker killed and restarted: ~30 s
def test_a_worker_killed_mid_node_is_retried_once(tmp_path, dask_params):
    node = Node(partial(dask_nodes.die_once, marker=str(tmp_path / "died")), "raw", "survived", name="die_once")
    pipeline, catalog = pipeline_and_catalog(tmp_path, [node])
    DaskRunner().run(pipeline, catalog)
    assert (tmp_path / "died").read_text() == "died" and catalog.load("survived").tolist() == [1, 2, 3, 4, 5]


def test_a_node_that_kills_its_worker_twice_stops_the_run_naming_it(tmp_path, dask_params):
    pipeline = Pipeline([Node(dask_nodes.make, "params:n", "raw", name="make"),
                         Node(dask_nodes.always_die, "raw", "never", name="always_die")])
    catalog = DataCatalog()
    catalog["params:n"] = 5
    with pytest.raises(DaskRunError, match="node always_die failed on the Dask cluster after 1 retry"):
        DaskRunner().run(pipeline, catalog)


def test_a_dataset_that_cannot_be_pickled_is_one_paragraph_naming_the_node(tmp_path, dask_params):
    catalog = DataCatalog({"held": dask_nodes.UnpicklableDataset()})
    pipeline = Pipeline([Node(dask_nodes.double, "held", "doubled", name="double_held")])
    with pytest.raises(DaskRunError) as caught:
        DaskRunner().run(pipeline, catalog)
    message = str(caught.value)
    assert "node double_held cannot be sent to the Dask cluster" in message and "picklable" in message
    assert "\n" not in message


def test_a_killed_worker_is_explained_in_words():
    from music_emotion.framework.running.dask_runner import failure_message

    class KilledWorker(Exception):  # distributed's own type, by name: raised when a task's workers all died
        pass

    message = failure_message("train_arm", KilledWorker("task died"), 1)
    assert "worker process died each time" in message and "memory guard" in message and "dask.n_workers" in message


def test_an_unreachable_scheduler_fails_within_seconds_with_one_line(tmp_path, dask_params):
    dask_params["scheduler_address"] = "tcp://127.0.0.1:9"
    pipeline, catalog = pipeline_and_catalog(tmp_path)
    started = time.monotonic()
    with pytest.raises(DaskRunError, match=r"scheduler at tcp://127.0.0.1:9 did not answer within 2 s"):
        DaskRunner().run(pipeline, catalog)
    assert time.monotonic() - started < 30  # a bound on hanging, not a speed measurement


def test_a_model_with_parametrized_layers_travels_between_nodes(tmp_path, dask_params):
    """The GAN's discriminator (spectral norm) as a memory output read by the next node on another task."""
    extra = [Node(dask_nodes.spectral_model, "raw", "critic", name="critic"),
             Node(dask_nodes.weight_sum, "critic", "critic_sum", name="weigh")]
    pipeline, catalog = pipeline_and_catalog(tmp_path, extra)
    DaskRunner().run(pipeline, catalog)
    assert math.isfinite(catalog.load("critic_sum"))  # Dask's own torch serializer refused this module


def test_a_worker_writes_plain_log_lines_like_the_driver(monkeypatch):
    """A worker process has Kedro's default rich handler (settings.py is the driver's): its node lines would be
    wrapped at 80 columns into the run's log; the worker's first node makes them plain and drops task counts."""
    import io
    import logging

    from rich.console import Console
    from rich.logging import RichHandler

    from music_emotion.framework.output.log_output import TaskCountFilter
    from music_emotion.framework.running import dask_runner

    root = logging.getLogger()
    rich = RichHandler(console=Console(file=io.StringIO()))
    before = list(root.handlers)
    root.addHandler(rich)
    monkeypatch.setattr(dask_runner, "_WORKER_HOOKS", [])
    try:
        dask_runner._worker_hook_manager()
        (plain,) = [h for h in root.handlers if getattr(h, "stream", None) is rich.console.file]
        assert rich not in root.handlers and type(plain) is logging.StreamHandler
        assert any(isinstance(f, TaskCountFilter) for f in plain.filters)
    finally:
        root.handlers[:] = before
