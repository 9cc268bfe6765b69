"""Before MLflow is imported: where the local store lives (project-relative), whether a tracking server answers
within seconds, and whether the runner keeps one Kedro run in one MLflow run. Each problem is one line saying
what to change."""

from __future__ import annotations

import multiprocessing
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

SQLITE = "sqlite:///"


class TrackingError(click.ClickException):
    """Tracking cannot work as configured; the message says what to change."""


def project_relative_uri(uri: str | None, project_path: Path) -> str | None:
    """`sqlite:///mlruns/mlflow.db` -> `sqlite:////<project>/mlruns/mlflow.db` (its folder created)."""
    if not uri or not uri.startswith(SQLITE) or uri.startswith(SQLITE + "/"):
        return uri
    database = (project_path / uri[len(SQLITE):]).resolve()
    database.parent.mkdir(parents=True, exist_ok=True)
    return SQLITE + str(database)


def default_artifact_location(config: dict[str, Any]) -> None:
    """A local store keeps its artefacts beside its database (`mlruns/artifacts`), not in `./mlartifacts` of
    whatever folder the shell is in; an explicit `create_experiment_kwargs.artifact_location` wins."""
    uri = config["server"]["mlflow_tracking_uri"]
    experiment = config.setdefault("tracking", {}).setdefault("experiment", {})
    kwargs = experiment.setdefault("create_experiment_kwargs", {})
    if kwargs.get("artifact_location") is None and uri and uri.startswith(SQLITE):
        kwargs["artifact_location"] = str(Path(uri[len(SQLITE):]).parent / "artifacts")


def check_server(uri: str | None, timeout_s: float, env: str) -> None:
    """An http(s) tracking URI must answer within `timeout_s` (any HTTP status counts as an answer)."""
    if not uri or not uri.startswith(("http://", "https://")):
        return
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")  # later hiccups: seconds, not ~4 minutes
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(timeout_s)))
    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout_s)  # noqa: S310 - configured URI
    except urllib.error.HTTPError:
        return
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingError(
            f"the MLflow tracking server {uri} did not answer within {timeout_s:g} s ({reason}). Start it, fix "
            f"server.mlflow_tracking_uri in conf/{env}/mlflow.yml, or run without tracking: "
            "--params tracking.enabled=false"
        ) from None


def check_runner(runner: str) -> None:
    """ParallelRunner workers started by spawn/forkserver each open their own MLflow run: refuse that."""
    if "ParallelRunner" not in runner:
        return
    method = multiprocessing.get_context(os.environ.get("KEDRO_MP_CONTEXT") or None).get_start_method()
    if method != "fork":
        raise TrackingError(
            f"with tracking on, ParallelRunner needs the 'fork' start method (this one uses '{method}'): "
            "kedro-mlflow would split the run into one MLflow run per worker. Use the default runner, "
            "set KEDRO_MP_CONTEXT=fork (Linux), or run without tracking: --params tracking.enabled=false"
        )
