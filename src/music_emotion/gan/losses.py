"""The adversarial losses the GAN can train with (`training.adversarial_loss`): BCE with label smoothing, or hinge."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def adversarial_losses(kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor, real_label: float):
    """Discriminator loss from (real, detached fake) logits."""
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    return (F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_adversarial_loss(kind: str, fake_logits: torch.Tensor) -> torch.Tensor:
    if kind == "hinge":
        return -fake_logits.mean()
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
