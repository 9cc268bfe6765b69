"""The GAN training loop: batched reads from the (memory-mapped) train spectrograms, BCE-with-logits,
separate Adam optimisers, bf16 autocast on CUDA, a NaN guard per epoch."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from music_emotion.models.gan import SpectrogramDiscriminator, SpectrogramGenerator
from music_emotion.runtime import autocast, show_progress

logger = logging.getLogger(__name__)


@dataclass
class TrainSet:
    """Train-split spectrograms (rows of a possibly memory-mapped array) with their conditions."""

    values: np.ndarray  # (N_all, n_mels, n_frames) dB, read only through `rows`
    rows: np.ndarray  # (n,) row indices of the train songs in `values`
    conditions: np.ndarray  # (n, 2) float32 valence, arousal in [-1, 1]
    ids: list

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """dB spectrograms and conditions of `positions`, read in row order (fast on a memory map)."""
        positions = positions[np.argsort(self.rows[positions], kind="stable")]
        return np.asarray(self.values[self.rows[positions]], dtype=np.float32), self.conditions[positions]


def train_conditional_gan(
    data: TrainSet,
    generator: SpectrogramGenerator,
    discriminator: SpectrogramDiscriminator,
    training: dict[str, Any],
    seed: int,
    torch_generator: torch.Generator,
    device: torch.device,
) -> pd.DataFrame:
    """Train in place; return per-epoch losses. Raises FloatingPointError naming the epoch on NaN/inf."""
    epochs = int(training["epochs"])
    batch_size = int(training["batch_size"])
    real_label = float(training.get("real_label", 1.0))
    use_amp = bool(training.get("mixed_precision", True))
    n_batches = len(data) // batch_size  # drop the last partial batch: every step sees a full batch

    generator.to(device).train()
    discriminator.to(device).train()
    opt_g, opt_d = make_gan_optimizers(generator, discriminator, training, device)
    order_rng = np.random.default_rng(seed)
    non_blocking = device.type == "cuda"

    history = []
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        permutation = order_rng.permutation(len(data))
        sums = torch.zeros(4, device=device)  # g loss, d loss, D(real) prob, D(fake) prob
        bar = tqdm(range(n_batches), desc=f"GAN epoch {epoch}/{epochs}", leave=False, disable=not show_progress())
        for b in bar:
            db, cond = data.batch(permutation[b * batch_size : (b + 1) * batch_size])
            real = generator.to_unit(torch.from_numpy(db).to(device, non_blocking=non_blocking).unsqueeze(1))
            cond = torch.from_numpy(cond).to(device, non_blocking=non_blocking)
            noise = torch.randn(len(cond), generator.latent_dim, generator=torch_generator).to(device)
            loss_g, loss_d, logits_real, logits_fake = gan_train_step(
                generator, discriminator, opt_g, opt_d, real, cond, noise, real_label, device, use_amp
            )
            sums += torch.stack(
                [loss_g.detach(), loss_d.detach(), torch.sigmoid(logits_real).mean().detach(),
                 torch.sigmoid(logits_fake).mean().detach()]
            )
        g_loss, d_loss, d_real, d_fake = (sums / max(1, n_batches)).tolist()
        if not (math.isfinite(g_loss) and math.isfinite(d_loss)):
            raise FloatingPointError(
                f"GAN training diverged in epoch {epoch}: generator loss {g_loss}, discriminator loss {d_loss}. "
                "No weights were saved. Check mel_spectrograms for NaN/inf values, or lower "
                "gan_augmentation.training.generator_lr / discriminator_lr."
            )
        seconds = time.perf_counter() - started
        history.append(
            {"epoch": epoch, "generator_loss": g_loss, "discriminator_loss": d_loss,
             "d_real_prob": d_real, "d_fake_prob": d_fake, "seconds": seconds}
        )
        logger.info(
            "GAN epoch %d/%d: G loss %.4f, D loss %.4f, D(real) %.3f, D(fake) %.3f (%.1f s)",
            epoch, epochs, g_loss, d_loss, d_real, d_fake, seconds,
        )
    generator.to("cpu").eval()
    discriminator.to("cpu").eval()
    return pd.DataFrame(history)


def make_gan_optimizers(
    generator: nn.Module, discriminator: nn.Module, training: dict[str, Any], device: torch.device
) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Separate Adam optimisers for G and D (fused, one kernel per step, on CUDA)."""
    betas = tuple(float(b) for b in training.get("betas", (0.5, 0.999)))
    fused = device.type == "cuda"
    opt_g = torch.optim.Adam(generator.parameters(), lr=float(training["generator_lr"]), betas=betas, fused=fused)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=float(training["discriminator_lr"]), betas=betas, fused=fused)
    return opt_g, opt_d


def gan_train_step(
    generator: nn.Module,
    discriminator: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    cond: torch.Tensor,
    noise: torch.Tensor,
    real_label: float,
    device: torch.device,
    use_amp: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One D step then one G step (BCE on logits); returns (loss_g, loss_d, logits_real, logits_fake)."""
    # Discriminator: real (label `real_label`, one-sided smoothing) vs detached fakes (label 0).
    with autocast(device, use_amp):
        fake = generator(noise, cond)
        logits_real = discriminator(real, cond).float()
        logits_fake = discriminator(fake.detach(), cond).float()
        loss_d = F.binary_cross_entropy_with_logits(logits_real, torch.full_like(logits_real, real_label)) + \
            F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()

    # Generator: make D call the fakes real, for the same conditions.
    with autocast(device, use_amp):
        logits_gen = discriminator(fake, cond).float()
        loss_g = F.binary_cross_entropy_with_logits(logits_gen, torch.ones_like(logits_gen))
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return loss_g, loss_d, logits_real, logits_fake
