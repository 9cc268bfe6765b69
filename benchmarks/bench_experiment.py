"""The demo experiment under three runners, a kill -9 at half-way and its resume, and the resume bookkeeping's cost.

    python benchmarks/bench_experiment.py            # the demo experiment's own budget (~50 min on 2 cores)
    python benchmarks/bench_experiment.py --quick    # a shorter budget (epochs 6, GAN steps 100): ~15 min

Needs the demo's features: `kedro run --env demo` first. Works on a copy of the project (conf, src, data/demo),
one fresh `kedro` process per run, each with an empty record store, side by side:

1. SequentialRunner, ParallelRunner (2 workers), DaskRunner (LocalCluster, 2 workers): wall time, peak RSS of the
   process tree, and whether their `experiment_predictions` are identical.
2. ParallelRunner again, killed with SIGKILL (the whole process group) once half of the (seed, fold, arm)
   results are recorded, then the same command again: how many results it trained again (target: at most one per
   worker, the ones in flight), and whether its predictions equal the uninterrupted run's.
3. The bookkeeping of an uninterrupted run (fingerprinting the inputs, looking up and writing every record), timed
   in this process on the same data, as a share of the SequentialRunner's wall time (target: <= 3 %).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_tracking
import pandas as pd
from harness import Measurement, PeakRSS, report

PROJECT = Path(__file__).resolve().parents[1]
RUNNERS = {"sequential": "SequentialRunner", "parallel": "ParallelRunner",
           "dask": "music_emotion.runner.DaskRunner"}
QUICK = "experiment.overrides.training.optimisation.epochs=6,experiment.overrides.gan_augmentation.training.steps=100"
STORE = Path("data/demo/07_model_output/experiment_units")
PREDICTIONS = Path("data/demo/07_model_output/experiment_predictions.csv")


def copy_project(target: Path) -> None:
    """conf, src and pyproject (bench_tracking's copy), untracked, with the demo's data."""
    bench_tracking.copy_project(target)
    (target / "conf" / "local" / "parameters.yml").write_text("tracking:\n  enabled: false\n")
    if not (PROJECT / "data" / "demo" / "04_feature").is_dir():
        raise SystemExit("no demo features: run `kedro run --env demo` in the project first")
    shutil.copytree(PROJECT / "data" / "demo", target / "data" / "demo")
    shutil.copytree(PROJECT / "data" / "01_raw" / "demo_deam", target / "data" / "01_raw" / "demo_deam")


def command(runner: str, quick: bool) -> list[str]:
    params = "dask.n_workers=2" + (f",{QUICK}" if quick else "")
    return [sys.executable, "-m", "kedro", "run", "--env", "demo", "--pipelines", "experiment",
            "--runner", RUNNERS[runner], "--params", params]


def environment(project: Path) -> dict[str, str]:
    """The copy's own code first on the path, so editing the checkout while the benchmark runs changes nothing."""
    return dict(os.environ, KEDRO_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1", MUSIC_EMOTION_NO_PROGRESS="1",
                HF_HUB_OFFLINE="1", MPLBACKEND="Agg", PYTHONPATH=str(project / "src"))


def latest_predictions(project: Path) -> pd.DataFrame:
    versions = sorted((project / PREDICTIONS).iterdir())
    return pd.read_csv(versions[-1] / PREDICTIONS.name).sort_values(["seed", "arm", "song_id"]).reset_index(drop=True)


def records(project: Path) -> int:
    return len(list((project / STORE).glob("*/*/*.json")))


def run(project: Path, runner: str, quick: bool, fresh: bool = True) -> tuple[float, float, str]:
    """(seconds, peak RSS MB of the process tree, log) of one experiment run; `fresh` empties the record store."""
    if fresh:
        shutil.rmtree(project / STORE, ignore_errors=True)
    log = project / f"{runner}_{time.monotonic_ns()}.log"
    with PeakRSS(interval=0.2) as rss, log.open("w") as out:
        start = time.perf_counter()
        code = subprocess.call(command(runner, quick), cwd=project, env=environment(project), stdout=out,
                               stderr=subprocess.STDOUT)
        seconds = time.perf_counter() - start
    if code:
        raise RuntimeError(f"{runner} run failed ({code}):\n" + log.read_text()[-3000:])
    return seconds, rss.peak / 2**20, log.read_text()


def kill_at_half(project: Path, quick: bool, total: int) -> int:
    """Start a fresh ParallelRunner run and SIGKILL its process group once half the results are recorded."""
    shutil.rmtree(project / STORE, ignore_errors=True)
    with (project / "killed.log").open("w") as out:
        child = subprocess.Popen(command("parallel", quick), cwd=project, env=environment(project), stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        while records(project) < total // 2:
            if child.poll() is not None:
                raise RuntimeError("the run ended before half its results were recorded")
            time.sleep(0.5)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    return records(project)


def bookkeeping_seconds(project: Path) -> float:
    """Fingerprint the demo inputs and look up + rewrite every record of the finished store, in this process."""
    os.chdir(project)
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from music_emotion.study.unit_records import UnitRecordStore, content_fingerprint

    bootstrap_project(project)
    with KedroSession.create(project_path=project, env="demo") as session:
        catalog = session.load_context().catalog
        start = time.perf_counter()
        for name in ("mel_spectrograms", "ast_features", "emotion_labels"):
            content_fingerprint(catalog.load(name))
        store = UnitRecordStore(project / STORE)
        for path in (project / STORE).glob("*/*/*.json"):
            body = json.loads(path.read_text())
            record = store.find(body["unit"], body["arm"], body["key"], body["material"])
            store.save(record, body["material"])
        return time.perf_counter() - start


def trained_again(log: str) -> tuple[int, int]:
    """(recorded before the run, trained by it) from the plan's log line."""
    found = re.search(r"(\d+) already recorded in .*?, (\d+) to train", log)
    if not found:
        raise RuntimeError("the re-run did not log its plan")
    return int(found.group(1)), int(found.group(2))


def in_flight(log: str) -> int:
    """Fit nodes the killed run had started but not finished: the work a kill -9 costs (Kedro names a node
    without its namespace when it starts, with it when it completes, so they are counted, not matched)."""
    fits = r"[\w.]*(?:fit_and_record_arm|fit_gan_and_record_arms)"
    return len(re.findall(rf"Running node: {fits}", log)) - len(re.findall(rf"Completed node: {fits}", log))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"shorter budgets: --params {QUICK}")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench_experiment_"))
    try:
        project = tmp / "project"
        copy_project(project)
        rows, predictions, seconds = [], {}, {}
        for runner in RUNNERS:
            seconds[runner], rss, _ = run(project, runner, args.quick)
            predictions[runner] = latest_predictions(project)
            rows.append(Measurement(f"{runner} runner", [seconds[runner]], 1, "experiment", rss))
            print(f"{runner}: {seconds[runner]:.0f} s, peak RSS {rss:.0f} MB", flush=True)
        total = records(project)
        cost = bookkeeping_seconds(project)
        recorded = kill_at_half(project, args.quick, total)
        resumed_seconds, rss, log = run(project, "parallel", args.quick, fresh=False)
        before, retrained = trained_again(log)
        resumed = latest_predictions(project)
        rows.append(Measurement("parallel, resumed after SIGKILL at half", [resumed_seconds], 1, "experiment", rss))
        identical = {runner: bool(frame.equals(predictions["sequential"])) for runner, frame in predictions.items()}
        lost = in_flight((project / "killed.log").read_text())
        ratios = {"dask / parallel wall time": seconds["dask"] / seconds["parallel"],
                  "parallel / sequential wall time": seconds["parallel"] / seconds["sequential"],
                  "bookkeeping share of the sequential run (%)": 100 * cost / seconds["sequential"],
                  "results in all": float(total), "results recorded when killed": float(recorded),
                  "results the resume read back": float(before), "results the resume trained": float(retrained),
                  "fits in flight at the kill (work lost)": float(lost)}
        targets = {"every runner's predictions identical to the SequentialRunner's": all(identical.values()),
                   "resumed predictions identical to the uninterrupted run's":
                       bool(resumed.equals(predictions["sequential"])),
                   "the resume reads back every result recorded before the kill": before == recorded,
                   "at most one fit per worker lost (2 workers)": lost <= 2,
                   "DaskRunner no slower than ParallelRunner (10 % slack)":
                       seconds["dask"] <= 1.1 * seconds["parallel"],
                   "bookkeeping <= 3 % of an uninterrupted run": 100 * cost / seconds["sequential"] <= 3}
        return report("experiment_runners", rows, ratios, targets, args.out_dir)
    finally:
        os.chdir(PROJECT)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
