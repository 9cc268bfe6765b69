"""Whole-run fixtures: ONE demo run per test session, in a temporary copy of the project.

`demo_project` copies conf/, src/, notebooks/, pyproject.toml and the empty data layers to a temp
folder and runs there `kedro run --env demo --pipelines demo_data` (on 80 songs instead of 128, messy cases
included) then `kedro run --env demo` (all default pipelines) with a short training budget. The whole-run, notebook
and kedro-viz tests all reuse that run.

Set MUSIC_EMOTION_E2E_DIR=/some/folder to keep the copy (and reuse a finished run on the next
session instead of running again): handy when working on these tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
COPIED = ("conf", "src", "notebooks", "pyproject.toml")
DATA_LAYERS = (
    "01_raw", "02_intermediate", "03_primary", "04_feature",
    "05_model_input", "06_models", "07_model_output", "08_reporting",
)
DONE_MARKER = ".e2e_demo_run.json"
# The whole demo with a short budget: these tests check wiring, versioning and outputs, not model quality
# (learning is tested on toy sets; the full demo's numbers are in the README).
SHORT_TRAINING = ("training.optimisation.epochs=4,gan_augmentation.training.steps=60,"
                  "gan_augmentation.training.eval_every_steps=30,diffusion_augmentation.training.steps=30,"
                  "diffusion_augmentation.training.eval_every_steps=30,"
                  "diffusion_augmentation.sampling.sampling_steps=2")
SMALL_CORPUS = "demo_data.n_excerpts=72"  # + 8 full songs: 80, enough for every split, fold and quadrant
RUN_TIMEOUT_S = 30 * 60  # generous: the target is 10 minutes on 2 cores, CI machines may be busier


def subprocess_env() -> dict[str, str]:
    """No telemetry prompt, no progress bars, no hub access, no GUI backend: safe in CI."""
    env = dict(os.environ)
    env.update({
        "KEDRO_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "MUSIC_EMOTION_NO_PROGRESS": "1",
        "HF_HUB_OFFLINE": "1",
        "MPLBACKEND": "Agg",
        "PYTHONUNBUFFERED": "1",
    })
    env.pop("KEDRO_ENV", None)
    return env


def run_kedro(project: Path, *args: str, log_name: str, timeout: float = RUN_TIMEOUT_S,
              extra_env: dict[str, str] | None = None) -> float:
    """Run `kedro <args>` in `project`; fail the test with the log's tail if it fails. Returns wall seconds.

    Logs go to <project>/logs/<log_name>.log exactly as a user's `kedro run > run.log` gets them: the project's own
    conf/logging.yml, whose rich lines `settings.py` turns plain when the output is not a terminal.
    """
    log_path = project / "logs" / f"{log_name}.log"
    log_path.parent.mkdir(exist_ok=True)
    # MLflow tracks into the project copy's own store (mlruns/ under it), not the test session's temporary one
    env = subprocess_env() | {"MLFLOW_TRACKING_URI": ""} | (extra_env or {})
    start = time.perf_counter()
    with log_path.open("w") as log:
        completed = subprocess.run([sys.executable, "-m", "kedro", *args], cwd=project, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, timeout=timeout, check=False)
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-60:])
        pytest.fail(f"`kedro {' '.join(args)}` failed (exit {completed.returncode}); log {log_path}:\n{tail}")
    return seconds


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """{relative path: (sha256, mtime_ns)} of every file under `folder`."""
    result = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != ".gitkeep":
            result[path.relative_to(folder).as_posix()] = (
                hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
    return result


@dataclass
class DemoRun:
    path: Path
    wall_seconds: dict[str, float]
    data_after_first_run: dict[str, tuple[str, int]] = field(default_factory=dict)


def _copy_project(target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")
    for name in COPIED:
        source = PROJECT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copy2(source, target / name)
    # conf/local is the user's own (git-ignored): never let a developer's overrides leak into the test
    local = target / "conf" / "local"
    shutil.rmtree(local, ignore_errors=True)
    local.mkdir(parents=True)
    for layer in DATA_LAYERS:
        (target / "data" / layer).mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory) -> DemoRun:
    """A temp project copy on which the demo data and the full default run have been produced once."""
    keep = os.environ.get("MUSIC_EMOTION_E2E_DIR")
    root = Path(keep) if keep else tmp_path_factory.mktemp("demo_project")
    marker = root / DONE_MARKER
    if keep and marker.is_file():
        saved = json.loads(marker.read_text())
        return DemoRun(root, saved["wall_seconds"], {k: tuple(v) for k, v in saved["data_after_first_run"].items()})
    if keep and root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    _copy_project(root)
    wall = {
        "demo_data": run_kedro(root, "run", "--env", "demo", "--pipelines", "demo_data", "--params", SMALL_CORPUS,
                               log_name="demo_data"),
        "default": run_kedro(root, "run", "--env", "demo", "--params", SHORT_TRAINING, log_name="default_run"),
    }
    run = DemoRun(root, wall, snapshot(root / "data"))
    marker.write_text(json.dumps({"wall_seconds": wall, "data_after_first_run": run.data_after_first_run}))
    print(f"\n[e2e] demo run wall time on this machine: demo_data {wall['demo_data']:.0f} s, "
          f"default pipelines {wall['default']:.0f} s ({os.cpu_count()} CPUs visible)")
    return run


SECOND_RUN_MARKER = ".e2e_second_run.json"


@pytest.fixture(scope="session")
def second_demo_run(demo_project) -> DemoRun:
    """The whole demo once more with another seed (`--params seed=7`), as a user comparing seeds runs it: its
    versions sit beside the first run's (test_demo_run) and MLflow compares the two runs (test_mlflow_ui)."""
    marker = demo_project.path / SECOND_RUN_MARKER
    if not marker.is_file():  # MUSIC_EMOTION_E2E_DIR reuses a finished second run too
        seconds = run_kedro(demo_project.path, "run", "--env", "demo", "--params", f"{SHORT_TRAINING},seed=7",
                            log_name="default_run_seed7")
        marker.write_text(json.dumps({"seconds": seconds}))
    return demo_project


INSPECT_SCRIPT = r"""
import json, sys
from pathlib import Path
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.framework.project import pipelines
from kedro.io import AbstractVersionedDataset, MemoryDataset

project = Path(sys.argv[1])
bootstrap_project(project)
with KedroSession.create(project_path=project, env="demo") as session:
    catalog = session.load_context().catalog
    report = {}
    for name in sorted(pipelines["__default__"].all_outputs()):
        dataset = catalog.get(name) if hasattr(catalog, "get") else catalog._get_dataset(name)
        versioned = isinstance(dataset, AbstractVersionedDataset)
        entry = {"type": type(dataset).__name__, "memory": isinstance(dataset, MemoryDataset),
                 "versioned": versioned, "exists": bool(dataset is not None and dataset.exists())}
        if versioned:
            entry["filepath"] = str(dataset._filepath)
            entry["load_path"] = str(dataset._get_load_path())
        report[name] = entry
print("E2E-JSON:" + json.dumps(report))
"""


def catalog_outputs(project: Path) -> dict[str, dict]:
    """Every output of `__default__` with its dataset type, versioning and existence (in a subprocess)."""
    completed = subprocess.run([sys.executable, "-c", INSPECT_SCRIPT, str(project)], cwd=project,
                               env=subprocess_env(), capture_output=True, text=True, timeout=300, check=False)
    for line in completed.stdout.splitlines():
        if line.startswith("E2E-JSON:"):
            return json.loads(line[len("E2E-JSON:"):])
    pytest.fail(f"could not inspect the catalog:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
