"""AST fine-tuning throughput: windows/s of the AST train step, side by side with the ViT's, and MFU on a GPU.

The step is the training loop's (`study.training_loop.train_regressor`): feature windows already on the device ->
`model.predict` -> MSE -> backward -> gradient clipping -> AdamW (`make_optimizer`), bf16 autocast and fused AdamW
on CUDA, with the production model (`build_ast_regressor`) and conf's `training.ast` / `.training`:
  - `ast-base`: the architecture of `MIT/ast-finetuned-audioset-10-10-0.4593` (ASTConfig defaults: hidden 768,
    12 layers, 128 mel bins x 1,024 frames, 16 x 16 patches 10 apart = 12 x 101 + 2 = 1,214 tokens), random
    weights (the speed does not depend on them);
  - `demo`: the tiny AST of conf/demo.
Each is measured next to the ViT of the same configuration (`bench_training.vit_case`, native input: ViT-B/16 on
10 s 128 x 431 windows, 217 tokens), in one run on one device, so the ratio is the cost of switching an arm's
`model: vit` to `model: ast`. Windows are not seconds: an AST window is 10.24 s, a ViT-B/16 one 10 s.

    python benchmarks/bench_ast.py [--device auto] [--configs ast-base demo] [--batch-size N] [--steps N]
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import add_mfu, gpu_peak_tflops, project_parameters, synchronised, vit_case  # noqa: E402
from harness import Measurement, measure, report  # noqa: E402

from music_emotion.models.runtime import autocast, resolve_device, seed_everything, torch_threads  # noqa: E402

AST_BASE: dict[str, Any] = {}  # ASTConfig() is the MIT AudioSet checkpoints' architecture


def ast_features_stand_in(params: dict[str, Any], n_mels: int, frames: int):
    """A small `ast_features` set and its TRAIN part: what `build_ast_regressor` reads (shapes, normalisation)."""
    from music_emotion.audio.fbank import FbankConfig
    from music_emotion.data.corpus import Part
    from music_emotion.data.spectrograms import SpectrogramSet

    processing = params["data_processing"]
    config = FbankConfig.from_params({**processing["ast_features"], "n_mels": n_mels}, processing["extraction"])
    values = np.random.default_rng(0).normal(-5.0, 3.0, (2, n_mels, frames)).astype(np.float32)
    features = SpectrogramSet(ids=[0, 1], values=values, meta={"extraction": config.to_dict()})
    return features, Part("train", [0, 1], np.arange(2), np.zeros((2, 2), np.float32), np.full(2, frames))


def ast_model(config_name: str, params: dict[str, Any], device: torch.device):
    """(model on `device`, (mel bins, window frames), tokens) of an AST case (`ast-base`: the MIT AudioSet
    checkpoints' architecture; `demo`: conf/demo's tiny AST), random weights, SDPA attention."""
    from transformers import ASTConfig

    from music_emotion.models.ast_regression import ASTModelParams, build_ast_regressor

    section = copy.deepcopy(params["training"]["ast"])
    if config_name == "ast-base":
        section["ast_config"] = dict(AST_BASE)
    section.update(checkpoint=None, normalisation="dataset")
    section["ast_config"] = {**section["ast_config"], "attn_implementation": "sdpa"}
    architecture = ASTConfig(**section["ast_config"])
    features, train = ast_features_stand_in(params, architecture.num_mel_bins, architecture.max_length)
    model = build_ast_regressor(ASTModelParams.from_params(section), features, train).to(device).train()
    tokens = int(np.prod(model.backbone.embeddings.get_shape(architecture))) + 2
    return model, (architecture.num_mel_bins, model.window_frames), tokens


def ast_case(config_name: str, params: dict[str, Any], batch_size: int, steps: int, repeats: int,
             device: torch.device, peak_tflops: float | None, threads: int | None, seed: int) -> Measurement:
    from bench_training import vit_flops_per_image

    from music_emotion.study.optimiser import make_optimizer
    from music_emotion.study.training_loop import TrainingConfig

    seed_everything(seed)
    model, (n_mels, frames), tokens = ast_model(config_name, params, device)
    config = TrainingConfig.from_params(params["training"]["optimisation"])
    optimizer = make_optimizer(model, config, device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    x = torch.randn((batch_size, n_mels, frames), device=device) * 3 - 5
    y = torch.rand((batch_size, 2), device=device) * 2 - 1

    def run() -> None:
        for _ in range(steps):  # train_regressor's step (augmentations and the LR schedule aside)
            with autocast(device, config.mixed_precision):
                loss = F.mse_loss(model.predict(x).float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip_norm:
                torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip_norm)
            optimizer.step()

    label = f"AST {config_name} {n_mels}x{frames} ({tokens} tok) b{batch_size}"
    with torch_threads(threads):
        row = measure(label, synchronised(device, run), batch_size * steps, "windows", repeats, warmup=1)
    row.extra.update({"model": "ast", "config": config_name, "tokens": tokens, "batch_size": batch_size,
                      "steps_per_repeat": steps, "device": str(device),
                      "bf16_autocast": device.type == "cuda" and config.mixed_precision,
                      "parameters": sum(p.numel() for p in model.parameters()),
                      "torch_threads": threads or torch.get_num_threads()})
    add_mfu(row, vit_flops_per_image(model, tokens), peak_tflops)
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1")
    parser.add_argument("--configs", nargs="+", default=["ast-base", "demo"], choices=["ast-base", "demo"])
    parser.add_argument("--batch-size", type=int, default=None, help="default: 2 on CPU for ast-base, else 16")
    parser.add_argument("--steps", type=int, default=None, help="train steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="demo config only, 1 step, 1 repeat (smoke test)")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.configs, args.steps, args.repeats, args.batch_size = ["demo"], 1, 1, args.batch_size or 2

    device = resolve_device(args.device)
    peak = gpu_peak_tflops(device, args.peak_tflops)
    params = {"base": project_parameters(None), "demo": project_parameters("demo")}
    rows, ratios = [], {}
    for config in args.configs:
        env, vit_config = ("base", "vit-b16") if config == "ast-base" else ("demo", "demo")
        slow_cpu = device.type == "cpu" and env == "base"
        batch = args.batch_size or (2 if slow_cpu else 16)
        steps = args.steps or (1 if slow_cpu else 20 if device.type == "cuda" else 5)
        threads = (params["demo"]["training"]["optimisation"]["cpu_threads"]
                   if env == "demo" and device.type == "cpu" else None)
        ast = ast_case(config, params[env], batch, steps, args.repeats, device, peak, threads, args.seed)
        vit = vit_case(vit_config, "native", params[env], batch, steps, args.repeats, device, peak, False, threads,
                       args.seed)
        rows += [ast, vit]
        ratios[f"{config}: AST / ViT windows per s (b{batch})"] = (ast.summary()["rate_median"]
                                                                   / vit.summary()["rate_median"])
    return report("ast", rows, ratios, {}, args.out_dir)


if __name__ == "__main__":
    main()
