"""Training throughput: images/s of the ViT and GAN train steps, and model FLOPs utilisation on a GPU.

ViT: the step is the training loop's (`study.training_loop.train_regressor`): dB windows already on the
device -> `model.predict` (= `prepare_vit_inputs` + forward) -> MSE -> backward -> gradient clipping
(`grad_clip_norm`) -> AdamW step (`make_optimizer`), with the production model (`build_vit_regressor`) and
the conf's `training.model` / `training.optimisation` parameters. Measured for
  - `vit-b16`: ViT-B/16 (hidden 768, 12 layers, 12 heads, MLP 3072, patch 16, 224) on 128 x 431 windows
    (conf/base: 10 s windows cropped from the 45 s stored songs; random weights: the speed does not depend on them);
  - `demo`: the tiny ViT of conf/demo/parameters_training.yml on its 64 x 258 windows (6 s);
each in `resize` (to the backbone's image size: 224 x 224 for ViT-B/16, 197 tokens) and `native`
(the n_mels x frames grid padded to whole patches, `patch_stride` apart: 8 x 27 + 1 = 217 tokens for
ViT-B/16 at stride 16) input modes.
GAN: one step of `gan_augmentation` (`gan_train_step`: discriminator on real + fake, then generator, with the
conf's loss, auxiliary V/A head, DiffAugment and Adam from `make_gan_optimizers`, plus the EMA update of G
when `ema_decay` is set) on `gan_augmentation.window_seconds` windows: conf/base 128 x 431 (10 s) and
conf/demo 64 x 258 (6 s); images/s = real windows per second.

On CUDA: bf16 autocast (`runtime.autocast`), fused AdamW/Adam, SDPA attention, TF32 matmuls, synchronised
timing, and MFU = achieved model FLOP/s / the GPU's peak dense bf16 FLOP/s (`--peak-tflops`, default from
the GPU's name). ViT model FLOPs per image = 6 N T + 12 L d T^2 (N: parameters applied per token, T: tokens,
L: layers, d: hidden size; PaLM's convention, attention included); GAN FLOPs are counted with
`torch.utils.flop_counter` on one step. On CPU the figures are a reference only, and MFU is n/a.

    python benchmarks/bench_training.py [--device auto] [--configs vit-b16 demo] [--modes resize native]
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import statistics
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Measurement, measure, report  # noqa: E402

from music_emotion.gan.training import (  # noqa: E402
    GanTrainingConfig,
    gan_train_step,
    make_gan_optimizers,
    update_ema,
)
from music_emotion.models.runtime import autocast, resolve_device, seed_everything, torch_threads  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
VIT_B16 = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
           "patch_size": 16, "image_size": 224}
# Peak dense bf16 tensor FLOP/s (TFLOP/s) by a substring of torch.cuda.get_device_name(); first match wins.
PEAK_BF16_TFLOPS = (
    ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("GH200", 989.0), ("H200", 989.0), ("H100", 989.0),
    ("B200", 2250.0), ("A100", 312.0), ("L40S", 362.0), ("L40", 181.0), ("L4", 121.0),
)


# ---- shared helpers (bench_memory / bench_inference use them too) --------------------------------
def project_parameters(env: str | None = None) -> dict[str, Any]:
    """The project's merged parameters (conf/base + conf/<env>), read with the project's config loader."""
    from kedro.config import OmegaConfigLoader

    from music_emotion import settings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loader = OmegaConfigLoader(conf_source=str(PROJECT / "conf"), env=env, **settings.CONFIG_LOADER_ARGS)
        return dict(loader["parameters"])


def spectrogram_shape(env: str | None) -> tuple[int, int]:
    """(n_mels, n_frames) of the songs data_processing stores in `env` (the whole stored span)."""
    from music_emotion.audio.log_mel import MelConfig

    config = MelConfig.from_params(project_parameters(env)["data_processing"]["extraction"])
    return config.n_mels, config.n_frames


def extraction_of(params: dict[str, Any]) -> dict[str, Any]:
    """The `MelConfig` dict data_processing records with the spectrograms (`meta["extraction"]`)."""
    from music_emotion.audio.log_mel import MelConfig

    return MelConfig.from_params(params["data_processing"]["extraction"]).to_dict()


def vit_window(params: dict[str, Any]) -> tuple[int, int]:
    """(window_frames, window_stride) in frames of `training.model`, as the train node computes them."""
    from music_emotion.data.windows import frames_for_seconds

    model, extraction = params["training"]["model"], extraction_of(params)
    return (frames_for_seconds(model["window_seconds"], extraction, "training.model.window_seconds"),
            frames_for_seconds(model["window_stride_seconds"], extraction, "training.model.window_stride_seconds"))


def gan_window(params: dict[str, Any]) -> int:
    """Frames of one GAN window (`gan_augmentation.window_seconds`), as the train_gan node computes them."""
    from music_emotion.data.windows import frames_for_seconds

    return frames_for_seconds(params["gan_augmentation"]["window_seconds"], extraction_of(params),
                              "gan_augmentation.window_seconds")


def input_normalisation(model_params: Any, db_range: tuple[float, float] = (-80.0, 0.0)) -> dict[str, Any]:
    """What `models.families.input_normalisation` stores for the model's `normalisation` mode; the dataset
    statistics are typical dB values (the inputs are random, and the speed does not depend on them)."""
    low, high = (float(v) for v in db_range)
    if model_params.normalisation == "dataset":
        return {"db_mean": -40.0, "db_std": 15.0, "db_range": [low, high], "pad_db": low}
    return {"db_range": [low, high], "pad_db": low}


def busy_cores() -> float | None:
    """The 1-minute load average when a benchmark starts: above ~0.5 x cores, absolute figures are noisy
    (the ratios, measured side by side, much less so)."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def gpu_peak_tflops(device: torch.device, override: float | None) -> float | None:
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_TFLOPS if key.lower() in name.lower()), None)


def synchronised(device: torch.device, fn: Callable[[], Any]) -> Callable[[], Any]:
    """`fn`, then wait for the GPU (so the timer measures the work, not the launch)."""
    def run() -> Any:
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return out
    return run


def counted_flops(fn: Callable[[], Any]) -> float:
    """FLOPs torch's flop counter sees in one call (matmuls and convolutions, forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def add_mfu(row: Measurement, flops_per_image: float, peak_tflops: float | None) -> None:
    rates = row.rates
    achieved = [r * flops_per_image / 1e12 for r in rates]
    row.extra["model_gflop_per_image"] = flops_per_image / 1e9
    row.extra["achieved_tflops_median"] = statistics.median(achieved)
    row.extra["peak_tflops"] = peak_tflops
    row.extra["mfu_median"] = statistics.median(achieved) / peak_tflops if peak_tflops else None


# ---- ViT ------------------------------------------------------------------------------------------
def trained_model_params(config_name: str, mode: str, params: dict[str, Any] | None = None):
    """`ViTModelParams` of conf (`vit-b16`: conf/base with ViT-B/16's architecture and random weights;
    `demo`: conf/demo's tiny ViT) in input `mode`, with SDPA attention. `params`: that env's parameters."""
    from music_emotion.models.vit_regression import ViTModelParams

    if config_name not in ("vit-b16", "demo"):
        raise ValueError(f"unknown ViT config {config_name!r}; use vit-b16 or demo")
    if params is None:
        params = project_parameters(None if config_name == "vit-b16" else "demo")
    model = copy.deepcopy(params["training"]["model"])
    if config_name == "vit-b16":
        model["vit_config"] = dict(VIT_B16)
    model.update(checkpoint=None, input_mode=mode)
    model["vit_config"] = {**model["vit_config"], "attn_implementation": "sdpa"}  # torch's fused attention
    return ViTModelParams.from_params(model)


def vit_flops_per_image(model: torch.nn.Module, tokens: int) -> float:
    """6 N T + 12 L d T^2 (+ the head, applied once): training FLOPs of one image."""
    backbone = model.backbone
    per_token = sum(p.numel() for m in backbone.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))
                    for p in m.parameters(recurse=False))
    head = sum(p.numel() for p in model.head.parameters())
    layers, hidden = backbone.config.num_hidden_layers, backbone.config.hidden_size
    return 6.0 * per_token * tokens + 12.0 * layers * hidden * tokens**2 + 6.0 * head


def vit_model(config_name: str, mode: str, params: dict[str, Any], device: torch.device):
    """(model on `device`, (n_mels, window frames), (padded h, w), tokens) of a ViT case, random weights."""
    from music_emotion.models.vit_regression import build_vit_regressor, native_grid

    model_params = trained_model_params(config_name, mode, params)
    window = vit_window(params)
    extraction = extraction_of(params)
    model = build_vit_regressor(model_params, extraction, input_normalisation(model_params), window)
    model.to(device).train()
    spec = model.config["input"]
    patch, stride = int(spec["patch_size"]), int(spec["patch_stride"])
    shape = (int(extraction["n_mels"]), model.window_frames)
    if mode == "native":
        grid = native_grid(*shape, patch, stride)
        h, w = ((g - 1) * stride + patch for g in grid)  # the window padded to whole patches
    else:
        h, w = spec["image_size"]
        grid = (h // patch, w // patch)
    return model, shape, (h, w), math.prod(grid) + 1


def vit_case(config_name: str, mode: str, params: dict[str, Any], batch_size: int, steps: int, repeats: int,
             device: torch.device, peak_tflops: float | None, compile_model: bool, threads: int | None,
             seed: int) -> Measurement:
    from music_emotion.study.optimiser import make_optimizer
    from music_emotion.study.training_loop import TrainingConfig

    seed_everything(seed)
    model, shape, (h, w), tokens = vit_model(config_name, mode, params, device)
    stride = int(model.config["input"]["patch_stride"])
    config = TrainingConfig.from_params(params["training"]["optimisation"])
    optimizer = make_optimizer(model, config, device)  # the training loop's AdamW (fused on CUDA)
    trainable = [p for p in model.parameters() if p.requires_grad]
    forward = torch.compile(model.predict) if compile_model else model.predict
    x = torch.rand((batch_size, *shape), device=device) * -80.0  # dB windows, as fetched by the loop
    y = torch.rand((batch_size, 2), device=device) * 2 - 1

    def step() -> None:  # train_regressor's step (augmentations and the LR schedule aside)
        with autocast(device, config.mixed_precision):
            loss = F.mse_loss(forward(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip_norm:
            torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip_norm)
        optimizer.step()

    def run() -> None:
        for _ in range(steps):
            step()

    label = f"ViT {config_name} {mode} {shape[0]}x{shape[1]} ({tokens} tok) b{batch_size}"
    with torch_threads(threads):
        row = measure(label, synchronised(device, run), batch_size * steps, "images", repeats, warmup=1)
    row.extra.update({
        "model": "vit", "config": config_name, "input_mode": mode, "spectrogram": list(shape), "pixels": [h, w],
        "patch_stride": stride, "tokens": tokens, "batch_size": batch_size, "steps_per_repeat": steps,
        "device": str(device), "bf16_autocast": device.type == "cuda" and config.mixed_precision,
        "fused_optimizer": device.type == "cuda", "grad_clip_norm": config.grad_clip_norm,
        "attention": model.backbone.config._attn_implementation, "compile": compile_model,
        "torch_threads": threads or torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters()),
    })
    add_mfu(row, vit_flops_per_image(model, tokens), peak_tflops)
    return row


# ---- GAN ------------------------------------------------------------------------------------------
def gan_case(env_name: str, params: dict[str, Any], batch_size: int, steps: int, repeats: int,
             device: torch.device, peak_tflops: float | None, threads: int | None, seed: int) -> Measurement:
    from music_emotion.models.gan import SpectrogramDiscriminator, SpectrogramGenerator

    gan = params["gan_augmentation"]
    config = GanTrainingConfig.from_params(gan["training"])
    torch_generator = seed_everything(seed)
    augment_generator = torch.Generator().manual_seed(seed + 1)
    n_mels, n_frames = int(extraction_of(params)["n_mels"]), gan_window(params)
    common = {"n_mels": n_mels, "n_frames": n_frames, "channels": 1, "condition_dim": 2}
    generator = SpectrogramGenerator({**common, "latent_dim": int(gan["latent_dim"]), **gan["generator"],
                                      "db_min": -80.0, "db_max": 0.0}).to(device).train()
    discriminator = SpectrogramDiscriminator({**common, **gan["discriminator"]}).to(device).train()
    ema = copy.deepcopy(generator).eval() if config.ema_decay else None
    opt_g, opt_d = make_gan_optimizers(generator, discriminator, config, device)
    real_db = torch.rand((batch_size, n_mels, n_frames), device=device) * -80.0
    cond = torch.rand((batch_size, 2), device=device) * 2 - 1
    counter = {"step": 0}

    def step() -> None:  # train_conditional_gan's step: D on real + detached fakes, then G, then G's EMA
        real = generator.to_unit(real_db.unsqueeze(1))
        noise = torch.randn(batch_size, generator.latent_dim, generator=torch_generator).to(device)
        gan_train_step(generator, discriminator, opt_g, opt_d, real, cond, noise, config, augment_generator, device)
        counter["step"] += 1
        if ema is not None:
            update_ema(ema, generator, config.ema_decay, counter["step"])

    def run() -> None:
        for _ in range(steps):
            step()

    with torch_threads(threads):
        flops_per_step = counted_flops(synchronised(device, step))  # doubles as a warm-up step
        row = measure(f"GAN {env_name} {n_mels}x{n_frames} b{batch_size}", synchronised(device, run),
                      batch_size * steps, "images", repeats, warmup=0)
    row.extra.update({
        "model": "gan", "config": env_name, "spectrogram": [n_mels, n_frames], "batch_size": batch_size,
        "steps_per_repeat": steps, "device": str(device), "adversarial_loss": config.adversarial_loss,
        "diffaugment": list(config.diffaugment or []), "ema": config.ema_decay is not None,
        "bf16_autocast": device.type == "cuda" and config.mixed_precision,
        "fused_optimizer": device.type == "cuda", "torch_threads": threads or torch.get_num_threads(),
        "parameters": (sum(p.numel() for p in generator.parameters())
                       + sum(p.numel() for p in discriminator.parameters())),
    })
    add_mfu(row, flops_per_step / batch_size, peak_tflops)
    return row


# ---- main -----------------------------------------------------------------------------------------
def default_batch(kind: str, config: str, device: torch.device) -> list[int]:
    """Batch sizes measured by default: the pipeline's own, and on a GPU also a throughput-sized one."""
    if device.type == "cuda":
        return {"vit": [16, 256], "gan": [32, 128]}[kind] if config in ("vit-b16", "base") else [16, 256]
    if kind == "vit":
        return [2] if config == "vit-b16" else [16]  # ViT-B/16 trains at ~1 image/s on 2 CPU cores
    return [8] if config == "base" else [16]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1")
    parser.add_argument("--configs", nargs="+", default=["vit-b16", "demo"], choices=["vit-b16", "demo"])
    parser.add_argument("--modes", nargs="+", default=["resize", "native"], choices=["resize", "native"])
    parser.add_argument("--gan-configs", nargs="*", default=["base", "demo"], choices=["base", "demo"],
                        help="GAN sizes from conf/base and conf/demo (none: skip the GAN)")
    parser.add_argument("--batch-size", type=int, default=None, help="one batch size for every case")
    parser.add_argument("--steps", type=int, default=None,
                        help="train steps per timed repeat (default: 20 on CUDA; on CPU 1 for ViT-B/16, 5 else)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (ViT-B/16 on CPU: at most 2)")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the GPU's peak dense bf16 TFLOP/s for MFU (default: from its name, e.g. H100 SXM 989)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the ViT forward")
    parser.add_argument("--demo-threads", type=int, default=None,
                        help="CPU threads for the demo configs "
                             "(default: training.optimisation.cpu_threads of conf/demo)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="demo configs only, 1 step, 1 repeat (smoke test)")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.configs, args.gan_configs, args.steps, args.repeats = ["demo"], ["demo"], 1, 1
        args.batch_size = args.batch_size or 2

    load = busy_cores()
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    peak = gpu_peak_tflops(device, args.peak_tflops)
    params = {"base": project_parameters(None), "demo": project_parameters("demo")}
    demo_threads = args.demo_threads or params["demo"]["training"]["optimisation"].get("cpu_threads")

    rows = []
    for config in args.configs:
        env = "base" if config == "vit-b16" else "demo"
        threads = demo_threads if env == "demo" and device.type == "cpu" else None
        slow_cpu = device.type == "cpu" and config == "vit-b16"
        steps = args.steps or (20 if device.type == "cuda" else 1 if slow_cpu else 5)
        repeats = min(args.repeats, 2) if slow_cpu else args.repeats
        for mode in args.modes:
            for batch in [args.batch_size] if args.batch_size else default_batch("vit", config, device):
                rows.append(vit_case(config, mode, params[env], batch, steps, repeats, device, peak, args.compile,
                                     threads, args.seed))
    for env in args.gan_configs:
        steps = args.steps or (20 if device.type == "cuda" else 2 if env == "base" else 5)
        threads = demo_threads if env == "demo" and device.type == "cpu" else None
        for batch in [args.batch_size] if args.batch_size else default_batch("gan", env, device):
            rows.append(gan_case(env, params[env], batch, steps, args.repeats, device, peak, threads, args.seed))

    for row in rows:
        row.extra["load_average_1m_at_start"] = load
    by_name = {(r.extra["model"], r.extra["config"], r.extra.get("input_mode"), r.extra["batch_size"]): r for r in rows}
    ratios = {}
    for (model, config, mode, batch), row in by_name.items():
        if mode == "native" and (model, config, "resize", batch) in by_name:
            resize = by_name[(model, config, "resize", batch)].summary()["rate_median"]
            ratios[f"{config} b{batch}: native / resize images per s"] = row.summary()["rate_median"] / resize
    targets = {}
    if device.type == "cuda" and "H100" in torch.cuda.get_device_name(device):
        best = max((r.summary()["rate_median"] for r in rows
                    if r.extra["model"] == "vit" and r.extra["config"] == "vit-b16"
                    and r.extra["input_mode"] == "resize"),
                   default=0.0)
        targets[">= 2,000 img/s ViT-B/16 at 224 on an H100"] = best >= 2000
    document = report("training", rows, ratios, targets, args.out_dir)
    for s in document["results"]:
        mfu = f"{100 * s['mfu_median']:.1f} %" if s.get("mfu_median") is not None else "n/a (no GPU peak)"
        print(f"  {s['name']:44s} {s['model_gflop_per_image']:8.2f} GFLOP/img  "
              f"{s['achieved_tflops_median']:8.3f} TFLOP/s  MFU {mfu}")
    return document


if __name__ == "__main__":
    main()
