"""The MLflow UI on the demo project's store, comparing two demo runs (seeds 42 and 7), in headless Chromium.

Also writes the screenshot docs/tracking.md refers to (git-ignored `screenshots/mlflow_compare_runs.png`).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from .conftest import PROJECT, subprocess_env
from .test_kedro_viz import CHROMIUM, _chromium

pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's `chromium` package")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def two_runs(second_demo_run):
    """The demo's default run (seed 42) and a second one with seed 7, as a user comparing seeds would have."""
    demo_project = second_demo_run
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{demo_project.path / 'mlruns' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("music_emotion_demo")
    runs = [r for r in client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
            if r.info.run_name == "__default__ (demo)"]
    latest = {r.data.params["seed"]: r.info.run_id for r in reversed(runs)}  # newest run of each seed
    assert set(latest) == {"42", "7"}
    return experiment.experiment_id, [latest["42"], latest["7"]]


@pytest.fixture(scope="module")
def mlflow_ui(demo_project):
    """`mlflow ui` on the project's store (what `kedro mlflow ui` starts), on a free local port."""
    port = _free_port()
    store = f"sqlite:///{demo_project.path / 'mlruns' / 'mlflow.db'}"
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store,
                               "--host", "127.0.0.1", "--port", str(port)], cwd=demo_project.path,
                              env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow ui did not start within 60 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_ui_compares_two_demo_runs(two_runs, mlflow_ui, tmp_path):
    experiment_id, run_ids = two_runs
    query = urllib.parse.urlencode({"runs": json.dumps(run_ids), "experiments": json.dumps([experiment_id])})
    url = f"{mlflow_ui}/#/compare-runs?{query}"
    dom = _chromium(url, tmp_path / "profile", "--dump-dom").stdout
    assert all(run_id in dom for run_id in run_ids), "the compare page does not show both runs"
    assert "Comparing 2 Runs" in dom and "training.optimisation.epochs" in dom  # the parameters table

    screenshots = PROJECT / "screenshots"
    screenshots.mkdir(exist_ok=True)
    shot = screenshots / "mlflow_compare_runs.png"
    _chromium(url, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1600,1400")
    assert shot.is_file() and shot.stat().st_size > 10_000
