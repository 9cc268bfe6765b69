"""Experiment tracking: what saved outputs become in MLflow, the on/off switch, the store's place, fast failures.

The whole-run checks (one MLflow run per `kedro run`, per-epoch curves, test metrics, figures, experiment child
runs under ParallelRunner) are in tests/e2e/test_tracking_run.py.
"""

from __future__ import annotations

import http.server
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from music_emotion.framework.tracking.mlflow_run import (
    check_runner,
    check_server,
    default_artifact_location,
    project_relative_uri,
)
from music_emotion.framework.tracking.records import (
    experiment_children,
    history_metrics,
    matching,
    metric_key,
    namespace_of,
    report_metrics,
)
from music_emotion.framework.tracking.setup import TrackingError
from music_emotion.study.metrics import regression_report

PROJECT = Path(__file__).resolve().parents[1]


def test_a_history_becomes_one_point_per_row_at_its_step():
    history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.5, 0.4, np.nan], "val_ccc_mean": [0.1, 0.2, 0.3],
                            "is_best": [False, True, False], "note": ["a", "b", "c"]})
    points = history_metrics(history, "epoch", "real_only")
    curves = {}
    for key, value, step in points:
        curves.setdefault(key, []).append((step, value))
    assert curves["real_only.val_ccc_mean"] == [(1, 0.1), (2, 0.2), (3, 0.3)]
    assert curves["real_only.train_loss"] == [(1, 0.5), (2, 0.4)]  # NaN is not a point
    assert "real_only.note" not in curves and "real_only.epoch" not in curves
    with pytest.raises(KeyError, match="no step column 'step'"):
        history_metrics(history, "step", "x")


def test_a_nested_report_keeps_each_interval_beside_its_value():
    rng = np.random.default_rng(0)
    y = rng.uniform(-1, 1, size=(30, 2))
    report = {"gan": {"n_songs": 30, **regression_report(y, y + 0.1, n_resamples=20, seed=0),
                      "lineage": {"model": "abc123"}}}
    metrics = report_metrics(report, "test")
    assert metrics["test.gan.valence.ccc"] == pytest.approx(report["gan"]["valence"]["ccc"]["value"])
    assert (metrics["test.gan.valence.ccc_ci_low"] <= metrics["test.gan.valence.ccc"]
            <= metrics["test.gan.valence.ccc_ci_high"])
    assert metrics["test.gan.n_songs"] == 30
    assert not any("lineage" in key for key in metrics)  # strings are not metrics


def test_experiment_units_become_one_child_per_seed_fold_and_arm():
    rows = []
    for seed in (1, 2):
        for fold in ("0", "1", "pooled"):
            for arm in ("ridge", "gan"):
                for target in ("valence", "arousal"):
                    rows.append({"seed": seed, "fold": fold, "arm": arm, "target": target, "metric": "ccc",
                                 "value": 0.5, "epochs": 3.0 if arm == "gan" else np.nan})
    children = experiment_children(pd.DataFrame(rows))
    assert len(children) == 2 * 3 * 2
    gan = next(c for c in children if c.params == {"seed": "1", "fold": "0", "arm": "gan"})
    assert gan.name == "seed1 fold0 gan" and gan.metrics == {"valence.ccc": 0.5, "arousal.ccc": 0.5, "epochs": 3.0}
    assert "epochs" not in next(c for c in children if c.params["arm"] == "ridge").metrics


def test_patterns_and_names():
    assert matching("real_only.training_history",
                    {"gan_history": "step", "*.training_history": "epoch"}) == "*.training_history"
    assert matching("training_history", ["*.training_history"]) is None
    assert namespace_of("real_only.training_history", "*.training_history") == "real_only"
    assert namespace_of("gan_history", "gan_history") == "gan_history"
    assert metric_key("a", "b c", "d(e)") == "a.b c.d_e_"


def test_the_local_store_lives_in_the_project_whatever_the_current_folder(tmp_path):
    uri = project_relative_uri("sqlite:///mlruns/mlflow.db", tmp_path)
    assert uri == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db" and (tmp_path / "mlruns").is_dir()
    assert project_relative_uri("sqlite:////abs/mlflow.db", tmp_path) == "sqlite:////abs/mlflow.db"
    assert project_relative_uri("http://server:5000", tmp_path) == "http://server:5000"
    config = {"server": {"mlflow_tracking_uri": uri}}
    default_artifact_location(config)
    assert config["tracking"]["experiment"]["create_experiment_kwargs"]["artifact_location"] == str(
        tmp_path.resolve() / "mlruns" / "artifacts")


def test_an_unreachable_server_is_a_clear_error_within_seconds():
    start = time.perf_counter()
    with pytest.raises(TrackingError, match=r"(?s)127\.0\.0\.1:9 did not answer within 2 s.*tracking\.enabled=false"):
        check_server("http://127.0.0.1:9", 2.0, "demo")
    assert time.perf_counter() - start < 10  # a bound on hanging, not a speed measurement


def test_a_server_that_answers_anything_is_reachable():
    asked = []

    class Refusing(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            asked.append(self.path)
            self.send_error(501)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert check_server(f"http://127.0.0.1:{server.server_port}", 5.0, "local") is None  # a 501 is an answer
    finally:
        server.shutdown()
    assert asked == ["/health"]
    assert check_server("sqlite:///x.db", 5.0, "local") is None and asked == ["/health"]  # a file store: no request


def test_parallel_runner_is_refused_unless_workers_are_forked(monkeypatch):
    check_runner("SequentialRunner")
    monkeypatch.setenv("KEDRO_MP_CONTEXT", "spawn")
    with pytest.raises(TrackingError, match="'spawn'.*one MLflow run per worker"):
        check_runner("ParallelRunner")
    monkeypatch.setenv("KEDRO_MP_CONTEXT", "fork")
    check_runner("ParallelRunner")


@pytest.mark.parametrize("enabled", [True, False])
def test_tracking_switch_decides_whether_a_store_is_created(tmp_path, monkeypatch, enabled):
    import mlflow

    store = tmp_path / "store" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    bootstrap_project(PROJECT)
    with KedroSession.create(project_path=PROJECT, env="demo",
                             runtime_params={"tracking": {"enabled": enabled}}) as session:
        context = session.load_context()
        assert (getattr(context, "mlflow", None) is not None) is enabled
    assert store.exists() is enabled
    if enabled:
        experiment = mlflow.MlflowClient(f"sqlite:///{store}").get_experiment_by_name("music_emotion_demo")
        assert experiment.artifact_location.endswith(str(store.parent / "artifacts"))


@pytest.mark.parametrize("breakage", ["garbage db", "store folder is a file"])
def test_a_broken_store_warns_once_and_the_run_goes_on_untracked(tmp_path, monkeypatch, caplog, breakage):
    """The docs promise tracking failures only warn: a store that cannot be opened must not stop the run."""
    if breakage == "garbage db":
        store = tmp_path / "mlflow.db"
        store.write_bytes(b"this is not an sqlite database" * 100)
    else:
        (tmp_path / "mlruns").write_text("a file where the store's folder should be")
        store = tmp_path / "mlruns" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    bootstrap_project(PROJECT)
    with caplog.at_level(logging.WARNING, logger="music_emotion.framework.tracking.mlflow_run"), KedroSession.create(
            project_path=PROJECT, env="demo", runtime_params={"tracking": {"enabled": True}}) as session:
        session.load_context()  # was: 195-695 lines of traceback, no run
    warnings = [r.getMessage() for r in caplog.records if r.name == "music_emotion.framework.tracking.mlflow_run"]
    assert len(warnings) == 1 and "MLflow tracking is off for this run" in warnings[0]
    assert "tracking.enabled=false" in warnings[0] and str(store) in warnings[0]
