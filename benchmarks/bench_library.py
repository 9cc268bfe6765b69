"""Library inference: throughput of the Dask path vs the one-process loop, memory at 100 vs 1,000 files, and a
resume after a kill at about half-way. Side by side in one run.

    python benchmarks/bench_library.py            # 200 x 45 s mp3s (synthesised once, cached), ~10 min on 2 cores
    python benchmarks/bench_library.py --quick    # 12 short files: checks the script runs

The model is the demo's ViT (random weights: speed does not depend on them) on the base extraction (45 s stored
chunks, 128 mel bands, 10 s windows), so decoding dominates as it does for a small model; with ViT-B/16 on a CPU the
forward pass dominates and no decoding engine can speed it up (see docs/performance.md). Memory: each size runs in a
fresh subprocess; the 1,000 files are hard links to the 200 clips under new names (the same bytes, different paths).
Targets (issue: whole music libraries): >= 1.8x the one-process loop; peak RSS at 1,000 files within 10% of
that at 100; a resume after a kill at ~50% re-processes at most one batch.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_extraction import make_clips  # noqa: E402
from bench_training import input_normalisation, project_parameters, vit_window  # noqa: E402
from harness import (  # noqa: E402
    Measurement,
    PeakRSS,
    mel_config,  # noqa: E402
    report,
)

BATCH = 16


def build_model(quick: bool):
    from music_emotion.audio.log_mel import MelConfig
    from music_emotion.models.runtime import seed_everything
    from music_emotion.models.vit_regression import ViTModelParams, build_vit_regressor

    base, demo = project_parameters(None), project_parameters("demo")
    extraction = MelConfig.from_params(base["data_processing"]["extraction"])
    window = vit_window(base)
    if quick:
        extraction = mel_config(duration=2.0, n_mels=32)
        window = (extraction.n_frames, extraction.n_frames)
    model_conf = copy.deepcopy(demo["training"]["model"])
    model_conf["checkpoint"] = None
    params = ViTModelParams.from_params(model_conf)
    seed_everything(0)
    return build_vit_regressor(params, extraction.to_dict(), input_normalisation(params, (extraction.floor_db, 0.0)),
                               window).eval()


def library(folder: Path, clips: list[str], n: int) -> Path:
    """`n` files under `folder` (nested 50 per album): hard links to the clips, cycled, under new names."""
    for i in range(n):
        target = folder / f"album {i // 50:03d}" / f"track {i:05d}.mp3"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(clips[i % len(clips)], target)
    return folder


def run_library(root: Path, parts_dir: Path, engine: str, resume: bool = True, quick: bool = False) -> dict:
    """The inference pipeline's node on `root` as Kedro runs it (every part saved); returns counts."""
    from music_emotion.datasets import AudioFolderDataset, ParquetPartsDataset
    from music_emotion.pipelines.inference.nodes import predict_library

    params = {"model": "bench", "min_window_fraction": 0.5, "batch_size": 16, "files_per_batch": BATCH,
              "resume": resume}
    dask = {"engine": engine, "scheduler_address": None, "n_workers": None, "connect_timeout_s": 5,
            "min_audio_seconds": 0.0}
    listing = AudioFolderDataset(path=str(root), recursive=True).load()
    parts = ParquetPartsDataset(path=str(parts_dir))
    model, written = build_model(quick), 0
    for part in predict_library(listing, model, parts.load(), params, dask, "cpu", {"run": None}):
        parts.save(part)
        written += sum(len(t["file"].unique()) for t in part.values())
    return {"files": len(listing), "processed": written}


def worker(argv: list[str]) -> None:
    """`--worker root parts engine`: one library run in this process, its counts as JSON on the last line."""
    root, parts, engine = argv
    print(json.dumps(run_library(Path(root), Path(parts), engine)), flush=True)


def in_subprocess(root: Path, parts: Path, engine: str) -> tuple[float, float, dict]:
    """(seconds, peak RSS MB of the whole process tree, counts) of one run in a fresh interpreter."""
    with PeakRSS() as rss:
        start = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--worker", str(root), str(parts), engine],
                             capture_output=True, text=True, check=True,
                             env=dict(os.environ, MUSIC_EMOTION_NO_PROGRESS="1"))
        seconds = time.perf_counter() - start
    return seconds, rss.peak / 2**20, json.loads(out.stdout.strip().splitlines()[-1])


def kill_at_half(root: Path, parts: Path, n_files: int) -> int:
    """Start a Dask library run, SIGKILL its process group once half the files are in parts; parts written."""
    child = subprocess.Popen([sys.executable, __file__, "--worker", str(root), str(parts), "dask"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                             env=dict(os.environ, MUSIC_EMOTION_NO_PROGRESS="1"))
    while child.poll() is None and len(list(parts.rglob("*.parquet"))) * BATCH < n_files // 2:
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    return len(list(parts.rglob("*.parquet")))


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        worker(argv[1:])
        return {}
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--large", type=int, default=1000, help="library size for the memory comparison")
    parser.add_argument("--seconds", type=float, default=45.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "music_emotion_bench_clips")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.files, args.large, args.seconds = 12, 24, 3.0
    clips = [path for _, path in make_clips(args.cache_dir / f"{args.files}x{args.seconds:g}s", args.files,
                                            args.seconds)]
    small = max(args.files // 2, 1)
    with tempfile.TemporaryDirectory(prefix="bench_library_") as scratch:
        tmp = Path(scratch)
        root = library(tmp / "library", clips, args.files)
        loop_s, loop_rss, _ = in_subprocess(root, tmp / "parts_single", "single")
        dask_s, dask_rss, counts = in_subprocess(root, tmp / "parts_dask", "dask")
        assert counts["processed"] == args.files
        small_s, small_rss, _ = in_subprocess(library(tmp / "small", clips, small), tmp / "parts_small", "dask")
        large_s, large_rss, _ = in_subprocess(library(tmp / "large", clips, args.large), tmp / "parts_large", "dask")
        parts_before = kill_at_half(root, tmp / "parts_resume", args.files)
        done_before = parts_before * BATCH
        resumed = run_library(root, tmp / "parts_resume", "dask", quick=args.quick)
    reprocessed = resumed["processed"] - (args.files - done_before)
    rows = [
        Measurement(f"one-process loop, {args.files} files", [loop_s], args.files, "files", loop_rss),
        Measurement(f"Dask LocalCluster, {args.files} files", [dask_s], args.files, "files", dask_rss),
        Measurement(f"Dask, {small} files (memory)", [small_s], small, "files", small_rss),
        Measurement(f"Dask, {args.large} files (memory)", [large_s], args.large, "files", large_rss),
    ]
    ratios = {"Dask / one-process throughput": loop_s / dask_s,
              f"peak RSS {args.large} / {small} files": large_rss / small_rss,
              "files re-processed after a kill at ~50% (batch = 16)": float(reprocessed)}
    targets = {">= 1.8x the one-process loop": ratios["Dask / one-process throughput"] >= 1.8,
               "peak RSS within 10% from 100 to 1,000 files": ratios[f"peak RSS {args.large} / {small} files"] <= 1.10,
               "a resume re-processes at most one batch": reprocessed <= BATCH}
    return report("library", rows, ratios, targets, args.out_dir)


if __name__ == "__main__":
    main()
