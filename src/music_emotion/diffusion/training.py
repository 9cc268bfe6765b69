"""The flow-matching training loop, top to bottom: random window crops of the TRAIN songs, one regression step per
batch (predict the velocity e - x_0 at a random point of the straight path from the window to noise), an EMA of the
weights, and the loss logged every `eval_every_steps`.

No checkpoint is selected: the last EMA weights are kept. A flow model has no adversary to fall out of balance with,
and selecting by a regressor's reading of samples would make that regressor part of the training (the independent
reader that judges the samples must not be one).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from music_emotion.config import from_section
from music_emotion.console import progress_bar
from music_emotion.gan.training import TrainSet, update_ema
from music_emotion.models.flow import SpectrogramFlow
from music_emotion.models.runtime import AUGMENTATION_SEED_OFFSET, autocast

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlowTrainingConfig:
    """`diffusion_augmentation.training`: every key is required; the defaults live in conf/base."""

    steps: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    warmup_steps: int
    grad_clip_norm: float | None
    ema_decay: float | None
    label_dropout: float               # fraction of samples trained without their label (classifier-free guidance)
    time_sampling: Literal["uniform", "logit_normal"]
    eval_every_steps: int
    mixed_precision: bool
    cpu_threads: int | None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> FlowTrainingConfig:
        config = from_section(cls, params, "diffusion_augmentation.training",
                              "conf/base/parameters_diffusion_augmentation.yml")
        if config.steps < 1 or config.batch_size < 1 or config.eval_every_steps < 1 or config.warmup_steps < 0:
            raise ValueError("diffusion_augmentation.training: steps, batch_size and eval_every_steps must be >= 1, "
                             "warmup_steps >= 0")
        if not 0 <= config.label_dropout < 1:
            raise ValueError("diffusion_augmentation.training.label_dropout must be in [0, 1) (0 = no classifier-free "
                             f"guidance possible), got {config.label_dropout}")
        if config.ema_decay is not None and not 0 < config.ema_decay < 1:
            raise ValueError("diffusion_augmentation.training.ema_decay must be in (0, 1), or null for no EMA")
        return config


def sample_times(n: int, rule: str, generator: torch.Generator) -> torch.Tensor:
    """t in (0, 1): uniform, or logit-normal (Esser et al. 2024), which spends more steps mid-path where the
    velocity is hardest to predict."""
    if rule == "uniform":
        return torch.rand(n, generator=generator).clamp(1e-4, 1 - 1e-4)
    return torch.sigmoid(torch.randn(n, generator=generator))


def flow_matching_loss(model: SpectrogramFlow, x0: torch.Tensor, conditions: torch.Tensor, config: FlowTrainingConfig,
                       generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """MSE between the predicted velocity and e - x_0 at x_t = (1 - t) x_0 + t e, labels dropped for a fraction."""
    n = len(x0)
    t = sample_times(n, config.time_sampling, generator).to(device)
    noise = torch.randn(x0.shape, generator=generator).to(device)
    keep = (torch.rand(n, generator=generator) >= config.label_dropout).to(device)
    x_t = (1 - t)[:, None, None, None] * x0 + t[:, None, None, None] * noise
    with autocast(device, config.mixed_precision):
        velocity = model(x_t, t, conditions, keep)
    return F.mse_loss(velocity.float(), noise - x0)


def learning_rate_factor(step: int, config: FlowTrainingConfig) -> float:
    """Linear warm-up, then cosine decay to zero at the last step."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train_flow(data: TrainSet, model: SpectrogramFlow, config: FlowTrainingConfig, seed: int,
               device: torch.device) -> tuple[SpectrogramFlow, pd.DataFrame]:
    """Train; return (the EMA weights at the last step, or the weights when EMA is off; the loss history).

    Raises FloatingPointError naming the step when the loss turns NaN/inf.
    """
    if len(data) < config.batch_size:
        raise ValueError(f"{len(data)} train songs are fewer than one batch (diffusion_augmentation.training."
                         f"batch_size = {config.batch_size}); lower the batch size or add data")
    model.to(device).train()
    ema = copy.deepcopy(model).eval() if config.ema_decay else model
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: learning_rate_factor(step, config))
    batch_rng = np.random.default_rng(seed)
    noise_generator = torch.Generator().manual_seed(seed + AUGMENTATION_SEED_OFFSET)

    history: list[dict[str, Any]] = []
    loss_sum = torch.zeros((), device=device)
    started = time.perf_counter()
    permutation, cursor = batch_rng.permutation(len(data)), 0
    bar = progress_bar(total=config.steps, desc="Flow", unit="step")
    for step in range(1, config.steps + 1):
        if cursor + config.batch_size > len(data):  # a new pass: full batches only
            permutation, cursor = batch_rng.permutation(len(data)), 0
        db, cond = data.batch(permutation[cursor: cursor + config.batch_size], batch_rng)
        cursor += config.batch_size
        x0 = model.to_unit(db.to(device).unsqueeze(1))
        loss = flow_matching_loss(model, x0, torch.from_numpy(cond).to(device), config, noise_generator, device)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip_norm)
        optimiser.step()
        schedule.step()
        if ema is not model:
            update_ema(ema, model, config.ema_decay, step)
        loss_sum += loss.detach()
        bar.update(1)
        if step % config.eval_every_steps == 0 or step == config.steps:
            n = step - (history[-1]["step"] if history else 0)
            row = {"step": step, "epoch": step * config.batch_size / len(data), "flow_loss": float(loss_sum) / n,
                   "learning_rate": schedule.get_last_lr()[0], "seconds": time.perf_counter() - started}
            loss_sum = torch.zeros((), device=device)
            if not math.isfinite(row["flow_loss"]):
                raise FloatingPointError(
                    f"flow-matching training diverged by step {step} (loss {row['flow_loss']}). No weights were "
                    "saved. Check mel_spectrograms for NaN/inf values, or lower "
                    "diffusion_augmentation.training.learning_rate.")
            history.append(row)
            bar.set_postfix_str(f"loss {row['flow_loss']:.4f}")
    bar.close()
    kept = ema
    kept.config = {**kept.config, "total_steps": config.steps, "kept": "EMA weights at the last step"
                   if ema is not model else "weights at the last step"}
    logger.info("Flow matching: %d steps (%.0f s), final loss %.4f", config.steps, time.perf_counter() - started,
                history[-1]["flow_loss"])
    return kept.to("cpu").eval(), pd.DataFrame(history)
