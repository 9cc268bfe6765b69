"""The GAN training loop, top to bottom: random window crops of the TRAIN songs, one D step and one G step
per optimiser step, an EMA of G's weights, and every `eval_every_steps` a conditioning check on a fixed
batch; the best-conditioned checkpoint is the one kept.

Losses (`GanTrainingConfig`):
- adversarial: `bce` (the Kaggle reference recipe's, with one-sided label smoothing `real_label`) or `hinge`
  (Lim & Ye 2017; the loss of the projection-discriminator and BigGAN papers);
- auxiliary V/A regression (AC-GAN, Odena et al. 2017, for continuous labels): D learns V/A of real
  windows with MSE (`aux_weight_real`); G pays the MSE between D's reading of its sample and the intended
  condition (`aux_weight_fake`);
- R1 penalty on real inputs (Mescheder et al. 2018) when `r1_gamma` > 0.
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
from torch import nn

from music_emotion.config import from_section
from music_emotion.console import progress_bar
from music_emotion.data.windows import random_crop_starts, read_crops
from music_emotion.gan.diffaugment import check_policy, diff_augment
from music_emotion.gan.losses import adversarial_losses, generator_adversarial_loss
from music_emotion.gan.probe import ConditioningProbe
from music_emotion.models.gan import SpectrogramDiscriminator, SpectrogramGenerator
from music_emotion.models.runtime import AUGMENTATION_SEED_OFFSET, autocast

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GanTrainingConfig:
    """`gan_augmentation.training`: every key is required; the defaults live in conf/base."""

    adversarial_loss: Literal["bce", "hinge"]
    real_label: float
    aux_weight_real: float
    aux_weight_fake: float
    r1_gamma: float
    vicinal_radius: float
    vicinal_label_sigma: float
    diffaugment: list[str]
    diffaugment_time_shift_fraction: float
    diffaugment_cutout_fraction: float
    ema_decay: float | None
    steps: int | None
    epochs: int
    eval_every_steps: int
    batch_size: int
    generator_lr: float
    discriminator_lr: float
    betas: list[float]
    mixed_precision: bool
    cpu_threads: int | None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> GanTrainingConfig:
        config = from_section(cls, params, "gan_augmentation.training", "conf/base/parameters_gan_augmentation.yml")
        check_policy(config.diffaugment or [])
        if config.ema_decay is not None and not 0 < config.ema_decay < 1:
            raise ValueError("gan_augmentation.training.ema_decay must be in (0, 1), or null for no EMA")
        if (config.steps is not None and config.steps < 1) or config.epochs < 1 or config.eval_every_steps < 1:
            raise ValueError("gan_augmentation.training: steps (or null), epochs and eval_every_steps must be >= 1")
        if config.vicinal_radius < 0 or config.vicinal_label_sigma < 0:
            raise ValueError("gan_augmentation.training: vicinal_radius and vicinal_label_sigma must be >= 0 "
                             "(vicinal_radius 0 turns vicinal real samples off)")
        return config

    def total_steps(self, n_train: int) -> int:
        """`steps` when set, else `epochs` passes of full batches over the train songs."""
        return self.steps if self.steps is not None else self.epochs * max(1, n_train // self.batch_size)


@dataclass
class TrainSet:
    """Train-split songs (rows of a possibly memory-mapped array) with conditions and real frames per row."""

    values: np.ndarray  # (N_all, n_mels, n_frames) dB, read only through `rows`
    rows: np.ndarray  # (n,) row indices of the train songs in `values`
    conditions: np.ndarray  # (n, 2) float32 valence, arousal in [-1, 1]
    valid_frames: np.ndarray  # (n,) frames of real audio per song
    window: int  # frames of one GAN window

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, positions: np.ndarray, rng: np.random.Generator) -> tuple[torch.Tensor, np.ndarray]:
        """A random window of each song at `positions` (dB, (B, H, window)) and their conditions."""
        positions = positions[np.argsort(self.rows[positions], kind="stable")]  # row order: fast on a memory map
        starts = random_crop_starts(self.valid_frames[positions], self.window, rng)
        return read_crops(self.values, self.rows[positions], starts, self.window), self.conditions[positions]

    def vicinal_positions(self, positions: np.ndarray, sigma: float, radius: float,
                          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """CcGAN's hard vicinity: target labels = the songs' labels + N(0, sigma) (clipped to [-1, 1]), and for
        each a song drawn from those whose label lies within `radius` (the original song when none does).
        Returns (targets, chosen positions), both in the row order `batch` reads in, so they stay aligned."""
        targets = np.clip(self.conditions[positions] + rng.normal(0.0, sigma, size=(len(positions), 2)), -1.0, 1.0)
        distances = np.linalg.norm(self.conditions[None, :, :] - targets[:, None, :], axis=2)
        chosen = np.array([rng.choice(near) if len(near := np.flatnonzero(row <= radius)) else position
                           for row, position in zip(distances, positions, strict=True)])
        order = np.argsort(self.rows[chosen], kind="stable")
        return targets[order].astype(np.float32), chosen[order]


def make_gan_optimizers(generator: nn.Module, discriminator: nn.Module, config: GanTrainingConfig,
                        device: torch.device) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Separate Adam optimisers for G and D (fused, one kernel per step, on CUDA)."""
    betas = tuple(float(b) for b in config.betas)
    fused = device.type == "cuda"
    return (torch.optim.Adam(generator.parameters(), lr=config.generator_lr, betas=betas, fused=fused),
            torch.optim.Adam(discriminator.parameters(), lr=config.discriminator_lr, betas=betas, fused=fused))


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    """ema = d * ema + (1 - d) * model, parameter by parameter (buffers copied), with the usual warm-up
    d = min(decay, (1 + step) / (10 + step)) so that early, short runs are not dominated by the random init."""
    decay = min(decay, (1 + step) / (10 + step))
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p.detach(), 1.0 - decay)
    for e, b in zip(ema.buffers(), model.buffers(), strict=True):
        e.copy_(b)


def gan_train_step(
    generator: nn.Module,
    discriminator: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    cond: torch.Tensor,
    noise: torch.Tensor,
    config: GanTrainingConfig,
    augment_generator: torch.Generator,
    device: torch.device,
    real_labels: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """One D step then one G step; returns the step's losses and D outputs (device tensors, no sync).

    `cond` conditions D and G; `real_labels` are the real windows' own labels for D's V/A head (they differ from
    `cond` under vicinal sampling; None: the same)."""
    real_labels = cond if real_labels is None else real_labels
    policy = config.diffaugment or []

    def augment(x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, policy, config.diffaugment_time_shift_fraction, config.diffaugment_cutout_fraction,
                            augment_generator) if policy else x

    # ---- discriminator: real vs detached fakes (+ V/A of real windows, + R1 on real)
    real_in = augment(real).requires_grad_(config.r1_gamma > 0)
    with autocast(device, config.mixed_precision):
        fake = generator(noise, cond)
        real_logits, real_va = discriminator(real_in, cond)
        fake_logits, _ = discriminator(augment(fake.detach()), cond)
        loss_d = adversarial_losses(config.adversarial_loss, real_logits.float(), fake_logits.float(),
                                    config.real_label)
        aux_real = F.mse_loss(real_va.float(), real_labels) if real_va is not None else torch.zeros((), device=device)
    loss_d = loss_d + config.aux_weight_real * aux_real
    if config.r1_gamma > 0:
        (grad,) = torch.autograd.grad(real_logits.float().sum(), real_in, create_graph=True)
        loss_d = loss_d + 0.5 * config.r1_gamma * grad.pow(2).flatten(1).sum(1).mean()
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()

    # ---- generator: fool D for the same conditions, and let D read the intended V/A back
    with autocast(device, config.mixed_precision):
        gen_logits, gen_va = discriminator(augment(fake), cond)
        loss_adv = generator_adversarial_loss(config.adversarial_loss, gen_logits.float())
        aux_fake = F.mse_loss(gen_va.float(), cond) if gen_va is not None else torch.zeros((), device=device)
    loss_g = loss_adv + config.aux_weight_fake * aux_fake
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return {"generator_loss": loss_g.detach(), "discriminator_loss": loss_d.detach(),
            "d_real_logit": real_logits.detach().float().mean(), "d_fake_logit": fake_logits.detach().float().mean(),
            "aux_mse_real": aux_real.detach(), "aux_mse_fake": aux_fake.detach()}


def train_conditional_gan(
    data: TrainSet,
    generator: SpectrogramGenerator,
    discriminator: SpectrogramDiscriminator,
    config: GanTrainingConfig,
    probe: ConditioningProbe,
    seed: int,
    device: torch.device,
) -> tuple[SpectrogramGenerator, SpectrogramDiscriminator, pd.DataFrame]:
    """Train; return (kept generator = EMA weights at the best-conditioned evaluation, D at that step, history).

    Raises FloatingPointError naming the step when a loss turns NaN/inf.
    """
    total = config.total_steps(len(data))
    if len(data) < config.batch_size:
        raise ValueError(f"{len(data)} train songs are fewer than one batch (gan_augmentation.training.batch_size = "
                         f"{config.batch_size}); lower the batch size or add data")
    generator.to(device).train()
    discriminator.to(device).train()
    ema = copy.deepcopy(generator).eval() if config.ema_decay else generator
    opt_g, opt_d = make_gan_optimizers(generator, discriminator, config, device)
    batch_rng = np.random.default_rng(seed)
    noise_generator = torch.Generator().manual_seed(seed)
    augment_generator = torch.Generator().manual_seed(seed + AUGMENTATION_SEED_OFFSET)

    history: list[dict[str, Any]] = []
    sums: dict[str, torch.Tensor] = {}
    best: tuple[float, int, dict, dict] | None = None
    started = time.perf_counter()
    permutation, cursor = batch_rng.permutation(len(data)), 0
    bar = progress_bar(total=total, desc="GAN", unit="step")
    for step in range(1, total + 1):
        if cursor + config.batch_size > len(data):  # a new pass: full batches only
            permutation, cursor = batch_rng.permutation(len(data)), 0
        positions = permutation[cursor : cursor + config.batch_size]
        cursor += config.batch_size
        targets = None
        if config.vicinal_radius > 0:
            targets, positions = data.vicinal_positions(positions, config.vicinal_label_sigma, config.vicinal_radius,
                                                        batch_rng)
        db, labels = data.batch(positions, batch_rng)
        real = generator.to_unit(db.to(device).unsqueeze(1))
        labels_t = torch.from_numpy(labels).to(device)
        cond_t = labels_t if targets is None else torch.from_numpy(targets).to(device)
        noise = torch.randn(len(cond_t), generator.latent_dim, generator=noise_generator).to(device)
        out = gan_train_step(generator, discriminator, opt_g, opt_d, real, cond_t, noise, config, augment_generator,
                             device, real_labels=labels_t)
        if ema is not generator:
            update_ema(ema, generator, config.ema_decay, step)
        for key, value in out.items():
            sums[key] = sums.get(key, torch.zeros((), device=device)) + value
        bar.update(1)

        if step % config.eval_every_steps == 0 or step == total:
            n = step - (history[-1]["step"] if history else 0)
            row = {"step": step, "epoch": step * config.batch_size / len(data),
                   **{k: float(v) / n for k, v in sums.items()}}  # the one host sync per evaluation
            sums = {}
            if not all(math.isfinite(row[k]) for k in ("generator_loss", "discriminator_loss")):
                raise FloatingPointError(
                    f"GAN training diverged by step {step}: generator loss {row['generator_loss']}, discriminator loss "
                    f"{row['discriminator_loss']}. No weights were saved. Check mel_spectrograms for NaN/inf values, "
                    "or lower gan_augmentation.training.generator_lr / discriminator_lr."
                )
            row.update(probe.measure(ema, device))
            row["seconds"] = time.perf_counter() - started
            score = probe.score(row)
            if best is None or score > best[0]:
                best = (score, step, _cpu_state(ema), _cpu_state(discriminator))
            history.append(row)
            bar.set_postfix_str(f"cond CCC V {row['conditioning_ccc_valence']:.2f} "
                                f"A {row['conditioning_ccc_arousal']:.2f}"
                                f" FD x{row['frechet_ratio']:.1f}")
    bar.close()

    score, best_step, g_state, d_state = best
    kept = ema if ema is not generator else generator
    kept.load_state_dict(g_state)
    discriminator.load_state_dict(d_state)
    kept.config = {**kept.config, "selected_step": best_step, "total_steps": total,
                   "selected_by": probe.rule}
    frame = pd.DataFrame(history)
    frame["is_best"] = frame["step"] == best_step
    logger.info("GAN: %d steps (%.0f s); kept the step-%d generator%s (selection score %.3f)",
                total, time.perf_counter() - started, best_step, " (EMA weights)" if config.ema_decay else "", score)
    return kept.to("cpu").eval(), discriminator.to("cpu").eval(), frame


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def sample_train_conditions(conditions: np.ndarray, n: int, jitter: float, rng: np.random.Generator) -> np.ndarray:
    """`n` train songs' (valence, arousal) drawn with replacement, + Gaussian jitter, clipped to [-1, 1]."""
    picked = conditions[rng.integers(0, len(conditions), size=n)]
    return np.clip(picked + rng.normal(0.0, jitter, size=picked.shape), -1.0, 1.0).astype(np.float32)

