"""The DEAM-scale rehearsal, stage by stage: wall time, peak RSS of the process tree and disk written.

    python benchmarks/rehearsal_stages.py                         # every stage, in order (hours on 2 cores)
    python benchmarks/rehearsal_stages.py --stages demo_data data_processing
    python benchmarks/rehearsal_stages.py --stages training --params training.arms=[ridge,real_only]
    python benchmarks/rehearsal_stages.py --stages training --small-models   # every arm, the experiment's small models

Each stage is one fresh `kedro run --env rehearsal --pipelines <stage>` in this project (the rehearsal's own
data root, `data/rehearsal`, and corpus folder, `data/01_raw/rehearsal_deam`), so the figures are what a user
pays, imports and catalog loads included. Disk written = growth of `data/` over the stage. Results are appended
to `results/rehearsal_stages.json` (one entry per stage run, with the machine and the command), which
docs/performance.md#rehearsal-at-deam-scale quotes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness import RESULTS_DIR, PeakRSS, machine

PROJECT = Path(__file__).resolve().parents[1]
STAGES = ("demo_data", "data_processing", "gan_augmentation", "training", "reporting", "experiment")


def disk_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                pass
    return total


def small_model_params(env: Path = PROJECT / "conf" / "rehearsal") -> str:
    """`--params` that give the single-split run's ViT and AST arms the rehearsal experiment's small models
    (`experiment.overrides.training.model` / `.ast` in conf/rehearsal/parameters_experiment.yml), for a 2-core
    machine where ViT-B/16 and AST-base cannot finish within the rehearsal's budget. Budgets stay conf/rehearsal's."""
    import yaml

    overrides = yaml.safe_load((env / "parameters_experiment.yml").read_text())["experiment"]["overrides"]["training"]
    pairs: list[str] = []

    def flatten(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                flatten(f"{prefix}.{key}", item)
        else:
            pairs.append(f"{prefix}={'null' if value is None else value}")

    for section in ("model", "ast"):
        flatten(f"training.{section}", overrides[section])
    return ",".join(pairs)


def run_stage(stage: str, params: str | None, log_dir: Path, timeout: float | None = None) -> dict:
    """One fresh `kedro run --env rehearsal --pipelines <stage>`; past `timeout` seconds it is killed (exit code -9)."""
    command = [sys.executable, "-m", "kedro", "run", "--env", "rehearsal", "--pipelines", stage]
    if params:
        command += ["--params", params]
    env = dict(os.environ, KEDRO_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1", MUSIC_EMOTION_NO_PROGRESS="1",
               HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    log = log_dir / f"rehearsal_{stage}_{time.strftime('%H%M%S')}.log"
    before = disk_bytes(PROJECT / "data")
    with PeakRSS(interval=0.5) as rss, log.open("w") as out:
        start = time.perf_counter()
        try:
            code = subprocess.call(command, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            code = -9
        seconds = time.perf_counter() - start
    row = {"stage": stage, "params": params, "exit_code": code, "seconds": round(seconds, 1),
           "peak_rss_mb": round(rss.peak / 2**20),
           "disk_written_mb": round((disk_bytes(PROJECT / "data") - before) / 2**20, 1),
           "log": str(log), "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    print(json.dumps(row), flush=True)
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--params", default=None, help="passed to every stage's --params")
    parser.add_argument("--small-models", action="store_true",
                        help="ViT and AST arms at the rehearsal experiment's small sizes (see small_model_params)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.small_models:
        args.params = ",".join(filter(None, [args.params, small_model_params()]))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    results = args.out_dir / "rehearsal_stages.json"
    document = json.loads(results.read_text()) if results.exists() else {"machine": machine(), "runs": []}
    rows = []
    for stage in args.stages:
        row = run_stage(stage, args.params, args.out_dir)
        rows.append(row)
        document["runs"].append(row)
        results.write_text(json.dumps(document, indent=2))
        if row["exit_code"]:
            print(f"stage {stage} failed: see {row['log']}", file=sys.stderr)
            break
    return rows


if __name__ == "__main__":
    main()
