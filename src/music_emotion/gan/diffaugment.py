"""Differentiable augmentation of every discriminator input, real and fake alike (DiffAugment: Zhao et al.,
2020, "Differentiable Augmentation for Data-Efficient GAN Training"), adapted to spectrograms.

Only transforms that keep a spectrogram's emotion are used, so the auxiliary V/A head still learns true
labels: a circular time shift (where in the clip a pattern sits carries no emotion) and a time cutout
that spans every mel bin ("frequency-preserving": pitch and register, which carry valence, are never
moved or masked on part of the band). Both are batched tensor ops with gradients to the generator.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

POLICIES = ("time_shift", "cutout")


def check_policy(policy: Sequence[str]) -> None:
    unknown = [p for p in policy if p not in POLICIES]
    if unknown:
        raise ValueError(f"gan_augmentation.training.diffaugment has unknown transform(s) {unknown}; known: {POLICIES}")


def diff_augment(
    x: torch.Tensor, policy: Sequence[str], shift_fraction: float, cutout_fraction: float, generator: torch.Generator
) -> torch.Tensor:
    """(B, C, H, W) in [-1, 1] -> augmented copy; random draws from the (CPU) `generator`."""
    batch, _, _, width = x.shape
    frames = torch.arange(width, device=x.device)
    if "time_shift" in policy and shift_fraction > 0:
        limit = max(1, int(width * shift_fraction))
        shift = torch.randint(-limit, limit + 1, (batch,), generator=generator).to(x.device)
        index = (frames[None, :] - shift[:, None]) % width  # (B, W): circular roll per sample
        x = torch.gather(x, 3, index[:, None, None, :].expand_as(x))
    if "cutout" in policy and cutout_fraction > 0:
        length = max(1, int(width * cutout_fraction))
        start = torch.randint(0, width - length + 1, (batch,), generator=generator).to(x.device)
        inside = (frames[None, :] >= start[:, None]) & (frames[None, :] < (start + length)[:, None])
        x = x.masked_fill(inside[:, None, None, :], -1.0)  # -1 = the dB floor in the networks' range
    return x
