"""One GPU check, ready for the day a GPU is lent: the real run's costs on that GPU in a few minutes.

    python benchmarks/gpu_check.py              # on a GPU: <= 8 min; writes results/gpu_check.json + gpu_check.md
    python benchmarks/gpu_check.py --compile    # adds torch.compile'd ViT-B/16 rows (compile time reported apart)
    python benchmarks/gpu_check.py --smoke      # every part at toy size on CPU (a test runs this)

Measures, on one device, with the production code paths (bench_training / bench_ast / bench_data_path):
- ViT-B/16 and AST-base fine-tuning windows/s and MFU (bf16 autocast, SDPA attention, fused AdamW: the training
  loop's step), and their peak GPU memory at the pipeline's batch size and at a throughput batch;
- evaluation windows/s (inference mode, autocast, `training.optimisation.eval_batch_size`);
- the GAN's steps/s at its base size (128 x 431 windows, D + G + EMA);
- memory-mapped songs -> device batches/s with `device_cache` off (sorted memmap reads, then upload) and on
  (rows uploaded once, gathered on the GPU);
- if the rehearsal's features are on this machine and time remains of the 8 minutes, one rehearsal split at real
  size: `kedro run --env rehearsal --pipelines training` (ViT-B/16 x 4 arms, AST-base, ridge, mean), stopped at the
  time left (`rehearsal_stages.py`'s row: wall time, peak RSS, disk).
The figures feed docs/performance.md's GPU projection; on CPU (--smoke) they only show the script works.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ast import ast_case, ast_model  # noqa: E402
from bench_data_path import ProjectWindows, input_config, project_pass, write_spectrograms  # noqa: E402
from bench_training import (  # noqa: E402
    gan_case,
    gpu_peak_tflops,
    project_parameters,
    synchronised,
    vit_case,
    vit_model,
    vit_window,
)
from harness import RESULTS_DIR, Measurement, machine, measure, report  # noqa: E402

from music_emotion.data.windows import random_crop_starts  # noqa: E402
from music_emotion.models.runtime import autocast, resolve_device, seed_everything  # noqa: E402

# (train batch sizes, train steps per repeat, repeats) per mode: the real check stays within ~8 min on one GPU.
BUDGET = {"gpu": ([16, 128], 20, 3), "smoke": ([2], 1, 1)}


class PeakGpuMemory:
    """Peak allocated GPU memory (MB) over a block; None on CPU."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.mb = device, None

    def __enter__(self) -> PeakGpuMemory:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.device.type == "cuda":
            self.mb = torch.cuda.max_memory_allocated(self.device) / 2**20


def with_memory(device: torch.device, make_row) -> Measurement:
    with PeakGpuMemory(device) as memory:
        row = make_row()
    row.extra["peak_gpu_memory_mb"] = memory.mb
    return row


def eval_case(kind: str, config: str, params: dict[str, Any], device: torch.device, batches: int,
              repeats: int) -> Measurement:
    """Evaluation windows/s: the scoring loop's forward (no gradients, autocast) at `eval_batch_size`."""
    training = params["training"]["optimisation"]
    batch = int(training["eval_batch_size"]) if device.type == "cuda" else 2
    if kind == "vit":
        model, shape, _, tokens = vit_model(config, params["training"]["model"]["input_mode"], params, device)
        x = torch.rand((batch, *shape), device=device) * -80.0
    else:
        model, shape, tokens = ast_model(config, params, device)
        x = torch.randn((batch, *shape), device=device) * 3 - 5
    model.eval()

    def run() -> None:
        with torch.inference_mode(), autocast(device, bool(training["mixed_precision"])):
            for _ in range(batches):
                model.predict(x)

    row = measure(f"eval {kind} {config} {shape[0]}x{shape[1]} ({tokens} tok) b{batch}", synchronised(device, run),
                  batch * batches, "windows", repeats, warmup=1)
    row.extra.update({"model": kind, "config": config, "batch_size": batch, "tokens": tokens, "device": str(device)})
    return row


def data_path_cases(params: dict[str, Any], device: torch.device, smoke: bool, repeats: int) -> list[Measurement]:
    """Memory-mapped songs -> device batches, `device_cache` off and (on CUDA) on, the training loop's fetch."""
    n_mels, n_frames = (16, 64) if smoke else (128, 1938)
    window = 40 if smoke else vit_window(params)[0]
    items, batch, batches = (24, 4, 3) if smoke else (512, 16, 64)
    rng = np.random.default_rng(0)
    config = input_config(32 if smoke else 224)
    rows = []
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        values = write_spectrograms(Path(tmp) / "songs.npy", items, n_mels, n_frames, 0)
        targets = rng.uniform(-1, 1, (items, 2)).astype(np.float32)
        order = rng.permutation(items)[: batch * batches]
        starts = random_crop_starts(np.full(items, n_frames), window, rng)
        for cached in ([False, True] if device.type == "cuda" else [False]):
            fetch = ProjectWindows(values, targets, order, window, starts, device, cache_on_device=cached)
            row = measure(f"data path memmap -> {device.type}, device_cache {'on' if cached else 'off'}",
                          synchronised(device, lambda fetch=fetch: project_pass(fetch, batch, config)), batches,
                          "batches", repeats, warmup=1)
            row.extra.update({"device_cache": cached, "batch_size": batch, "window": [n_mels, window]})
            rows.append(row)
            fetch = None
        values = None
    return rows


TIME_LIMIT_S = 8 * 60  # the check's promise; the rehearsal split gets what the measurements leave of it
PROJECT = Path(__file__).resolve().parents[1]


def rehearsal_split(seconds_left: float, smoke: bool, out_dir: Path) -> dict[str, Any]:
    """The rehearsal's `training` stage at real size on this GPU, or why it was skipped."""
    if smoke:
        return {"status": "skipped: --smoke"}
    if not (PROJECT / "data/rehearsal/04_feature/ast_features.npy").exists():
        return {"status": "skipped: no rehearsal features here (run `kedro run --env rehearsal --pipelines demo_data` "
                          "then `--pipelines data_processing gan_augmentation` first)"}
    if seconds_left < 120:
        return {"status": f"skipped: {seconds_left:.0f} s left of the check's {TIME_LIMIT_S} s"}
    import rehearsal_stages

    row = rehearsal_stages.run_stage("training", None, out_dir, timeout=seconds_left)
    return {"status": "done" if row["exit_code"] == 0 else f"stopped (exit {row['exit_code']})", **row}


def markdown(document: dict[str, Any]) -> str:
    m = document["machine"]
    lines = [f"# GPU check — {m.get('cuda') or 'CPU (smoke)'}, torch {m['torch']}, {m['date']}", "",
             "| case | median rate | unit | MFU | peak GPU memory |", "| --- | ---: | --- | ---: | ---: |"]
    for row in document["results"]:
        mfu = f"{row['mfu_median']:.0%}" if row.get("mfu_median") is not None else "n/a"
        memory = f"{row['peak_gpu_memory_mb']:.0f} MB" if row.get("peak_gpu_memory_mb") is not None else "n/a"
        lines.append(f"| {row['name']} | {row['rate_median']:.1f} | {row['unit']} | {mfu} | {memory} |")
    split = document.get("rehearsal_split", {})
    if split.get("status") == "done":
        lines += ["", f"Rehearsal split at real size (`kedro run --env rehearsal --pipelines training`): "
                      f"{split['seconds']:.0f} s, peak RSS {split['peak_rss_mb']} MB."]
    elif split:
        lines += ["", f"Rehearsal split at real size: {split['status']}."]
    lines += ["", f"Wall time of the check: {document['seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="every part at toy size on CPU")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile'd ViT-B/16 training")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak (default: by name)")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    device = torch.device("cpu") if args.smoke else resolve_device(args.device)
    if device.type != "cuda" and not args.smoke:
        parser.error("no GPU here: run with --smoke to check the script, or on a machine with CUDA")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    peak = gpu_peak_tflops(device, args.peak_tflops)
    env, vit, ast, gan = ("demo", "demo", "demo", "demo") if args.smoke else (None, "vit-b16", "ast-base", "base")
    params = project_parameters(env)
    batches, steps, repeats = BUDGET["smoke" if args.smoke else "gpu"]
    mode = params["training"]["model"]["input_mode"]
    seed_everything(42)
    rows = []
    for batch in batches:
        rows.append(with_memory(device, lambda b=batch: vit_case(vit, mode, params, b, steps, repeats, device, peak,
                                                                 False, None, 42)))
        rows.append(with_memory(device, lambda b=batch: ast_case(ast, params, b, steps, repeats, device, peak,
                                                                 None, 42)))
    if args.compile:
        compile_start = time.perf_counter()
        rows.append(with_memory(device, lambda: vit_case(vit, mode, params, batches[-1], steps, repeats, device, peak,
                                                         True, None, 42)))
        rows[-1].extra["compile_and_measure_seconds"] = time.perf_counter() - compile_start
    eval_batches = 1 if args.smoke else 10
    rows.append(with_memory(device, lambda: eval_case("vit", vit, params, device, eval_batches, repeats)))
    rows.append(with_memory(device, lambda: eval_case("ast", ast, params, device, eval_batches, repeats)))
    gan_batch = int(params["gan_augmentation"]["training"]["batch_size"]) if not args.smoke else 2
    gan_row = with_memory(device, lambda: gan_case(gan, params, gan_batch, steps, repeats, device, peak, None, 42))
    gan_row.extra["steps_per_s"] = gan_row.summary()["rate_median"] / gan_batch
    rows.append(gan_row)
    rows += data_path_cases(params, device, args.smoke, repeats)
    out_dir = args.out_dir or RESULTS_DIR
    split = rehearsal_split(TIME_LIMIT_S - (time.perf_counter() - start), args.smoke, out_dir)
    document = report("gpu_check", rows, {}, {}, out_dir)
    document["rehearsal_split"] = split
    document["seconds"] = time.perf_counter() - start
    document["smoke"] = args.smoke
    document["machine"] = machine()
    (out_dir / "gpu_check.json").write_text(json.dumps(document, indent=2))
    (out_dir / "gpu_check.md").write_text(markdown(document))
    print(markdown(document))
    return document


if __name__ == "__main__":
    main()
