"""Wall time of `kedro run --env demo` with and without MLflow tracking, side by side on one copy of the project.

    python benchmarks/bench_tracking.py                # the whole demo, once each way (~12 min on 2 cores)
    python benchmarks/bench_tracking.py --repeats 2    # off, on, off, on: alternating, so drift hits both
    python benchmarks/bench_tracking.py --quick        # data_processing of 34 songs: checks the script runs

The copy gets the demo data once (untimed); every timed run is a fresh `kedro` process, so MLflow's import and
store set-up (a few seconds) are counted as a user pays them. The tracked runs log into the copy's own store.
Target (issue: experiment tracking): tracking adds at most 5% to the demo's wall time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Measurement, report

PROJECT = Path(__file__).resolve().parents[1]
COPIED = ("conf", "src", "pyproject.toml")


def copy_project(target: Path) -> None:
    for name in COPIED:
        source = PROJECT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, target / name)
    shutil.rmtree(target / "conf" / "local", ignore_errors=True)
    (target / "conf" / "local").mkdir()


def kedro(project: Path, *args: str) -> float:
    """Seconds of one `kedro` command in `project`; raises with the log's tail when it fails."""
    env = dict(os.environ, KEDRO_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1", MUSIC_EMOTION_NO_PROGRESS="1",
               HF_HUB_OFFLINE="1", MPLBACKEND="Agg", MLFLOW_TRACKING_URI="")
    log = project / "logs" / f"run_{time.monotonic_ns()}.log"
    log.parent.mkdir(exist_ok=True)
    start = time.perf_counter()
    with log.open("w") as out:
        code = subprocess.call([sys.executable, "-m", "kedro", *args], cwd=project, env=env, stdout=out,
                               stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if code:
        raise RuntimeError(f"kedro {' '.join(args)} failed ({code}):\n" + log.read_text()[-3000:])
    return seconds


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--pipelines", default=None, help="default: all default pipelines (the demo run)")
    parser.add_argument("--params", default=None, help="extra --params for both ways, e.g. a shorter budget")
    parser.add_argument("--corpus-params", default="", help="--params of the demo_data run (the corpus timed on)")
    parser.add_argument("--quick", action="store_true", help="data_processing on 34 demo songs (smoke test)")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.pipelines = "data_processing"
        args.corpus_params = args.corpus_params or "demo_data.n_excerpts=32,demo_data.n_full_songs=2"

    with tempfile.TemporaryDirectory(prefix="bench_tracking_") as folder:
        project = Path(folder)
        copy_project(project)
        kedro(project, "run", "--env", "demo", "--pipelines", "demo_data",
              *(["--params", args.corpus_params] if args.corpus_params else []))
        common = ["run", "--env", "demo", *(["--pipelines", args.pipelines] if args.pipelines else [])]
        seconds: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeats):
            for tracked in (False, True):
                switch = f"tracking.enabled={str(tracked).lower()}"
                params = f"{args.params},{switch}" if args.params else switch
                seconds[tracked].append(kedro(project, *common, "--params", params))
        store_created = (project / "mlruns" / "mlflow.db").is_file()

    what = args.pipelines or "demo (default pipelines)"
    rows = [Measurement(f"kedro run --env demo, tracking {'on' if t else 'off'}", seconds[t], 1.0, "runs",
                        extra={"pipelines": what}) for t in (False, True)]
    overhead = statistics.median(seconds[True]) / statistics.median(seconds[False])
    return report("tracking", rows, {"tracked / untracked wall time": overhead},
                  {"tracking adds <= 5% to the demo run": overhead <= 1.05,
                   "the tracked run created a store": store_created},
                  args.out_dir)


if __name__ == "__main__":
    main()
