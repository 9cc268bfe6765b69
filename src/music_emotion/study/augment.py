"""Training-time augmentations of a batch of dB spectrograms, usable by any ViT arm.

- `specaugment`: SpecAugment-style time and frequency masking (Park et al., 2019, "SpecAugment: A
  Simple Data Augmentation Method for Automatic Speech Recognition"); AST fine-tunes with the same
  masks (Gong et al., 2021). Masked cells take the sample's mean dB, so after normalisation they are
  close to zero and never introduce a new extreme.
- `mixup`: Zhang et al., 2018, "mixup: Beyond Empirical Risk Minimization": pairs in the batch and
  their labels are mixed with a weight drawn from Beta(alpha, alpha); for regression the targets mix
  linearly, which keeps them in [-1, 1].
- `cmixup`: C-Mixup (Yao et al., NeurIPS 2022, "C-Mixup: Improving Generalization in Regression"): mixup whose
  partners are drawn by label distance (Gaussian kernel of `bandwidth` on the (valence, arousal) labels), since
  mixing a sad calm song with a happy excited one gives an input no label in between describes.

Random draws come from a CPU `torch.Generator`, so a seed gives the same augmented batches on any
device; the masks are then applied as batched tensor ops on the batch's device.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class SpecAugmentConfig:
    time_masks: int
    time_mask_fraction: float  # longest mask as a fraction of the window's frames
    frequency_masks: int
    frequency_mask_fraction: float  # longest mask as a fraction of the mel bins


@dataclass(frozen=True)
class MixupConfig:
    alpha: float


@dataclass(frozen=True)
class CMixupConfig:
    alpha: float      # mixing weight ~ Beta(alpha, alpha), as mixup
    bandwidth: float  # Gaussian kernel width on label distance: P(partner j | i) ~ exp(-|y_i - y_j|^2 / (2 bw^2))


Augmentation = SpecAugmentConfig | MixupConfig | CMixupConfig
AUGMENTATIONS = {"specaugment": SpecAugmentConfig, "mixup": MixupConfig, "cmixup": CMixupConfig}


def parse_augmentation(name: str, params: Mapping[str, Any], parameter: str) -> Augmentation:
    """The typed config of augmentation `name` (its `kind` key, or its name, says which one it is)."""
    params = dict(params or {})
    kind = params.pop("kind", name)
    if kind not in AUGMENTATIONS:
        raise ValueError(f"{parameter}.{name}: unknown augmentation kind {kind!r}; known: {sorted(AUGMENTATIONS)}")
    cls = AUGMENTATIONS[kind]
    expected = {f.name for f in fields(cls)}
    if set(params) != expected:
        raise ValueError(f"{parameter}.{name} needs exactly the keys {sorted(expected)} (+ optional kind), "
                         f"got {sorted(params)}")
    return cls(**params)


def spec_augment(x: torch.Tensor, config: SpecAugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """(B, n_mels, frames) -> a masked copy: per sample, `time_masks` and `frequency_masks` bands."""
    batch, height, width = x.shape
    fill = x.mean(dim=(1, 2), keepdim=True)
    keep = torch.ones_like(x, dtype=torch.bool)
    for count, fraction, size, axis in (
        (config.time_masks, config.time_mask_fraction, width, 2),
        (config.frequency_masks, config.frequency_mask_fraction, height, 1),
    ):
        longest = int(fraction * size)
        if count <= 0 or longest <= 0:
            continue
        lengths = torch.randint(0, longest + 1, (batch, count), generator=generator)
        starts = (torch.rand((batch, count), generator=generator) * (size - lengths + 1)).long()
        position = torch.arange(size).view(1, 1, size)
        inside = (position >= starts[..., None]) & (position < (starts + lengths)[..., None])  # (B, count, size)
        masked = inside.any(dim=1).to(x.device)  # (B, size)
        keep &= ~(masked[:, None, :] if axis == 2 else masked[:, :, None])
    return torch.where(keep, x, fill)


def mixup(
    x: torch.Tensor, y: torch.Tensor, config: MixupConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix each sample with a random partner of the batch (inputs and targets, one weight per sample)."""
    batch = x.shape[0]
    lam = _seeded_beta(float(config.alpha), batch, generator).to(x.device)
    partner = torch.randperm(batch, generator=generator).to(x.device)
    x_mixed = lam.view(-1, 1, 1) * x + (1 - lam.view(-1, 1, 1)) * x[partner]
    y_mixed = lam.view(-1, 1) * y + (1 - lam.view(-1, 1)) * y[partner]
    return x_mixed, y_mixed


def label_partners(y: torch.Tensor, bandwidth: float, generator: torch.Generator) -> torch.Tensor:
    """C-Mixup's partner of each sample in the batch, drawn with probability falling off with label distance
    (Gaussian kernel); a sample is never its own partner (mixing with itself would change nothing)."""
    batch = y.shape[0]
    if batch < 2:
        return torch.zeros(batch, dtype=torch.long)
    labels = y.detach().float().cpu()
    distance = torch.cdist(labels, labels) ** 2
    logits = -distance / (2 * float(bandwidth) ** 2)
    logits.fill_diagonal_(float("-inf"))
    weights = torch.softmax(logits, dim=1)
    return torch.multinomial(weights, 1, generator=generator).squeeze(1)


def c_mixup(
    x: torch.Tensor, y: torch.Tensor, config: CMixupConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup with partners near in label (`label_partners`): inputs and targets, one weight per sample."""
    lam = _seeded_beta(float(config.alpha), x.shape[0], generator).to(x.device)
    partner = label_partners(y, config.bandwidth, generator).to(x.device)
    x_mixed = lam.view(-1, 1, 1) * x + (1 - lam.view(-1, 1, 1)) * x[partner]
    y_mixed = lam.view(-1, 1) * y + (1 - lam.view(-1, 1)) * y[partner]
    return x_mixed, y_mixed


def _seeded_beta(alpha: float, n: int, generator: torch.Generator) -> torch.Tensor:
    """Beta(alpha, alpha) draws from a seeded generator (torch's Beta sampler takes no generator)."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, size=n).astype(np.float32))


def apply_augmentations(
    x: torch.Tensor,
    y: torch.Tensor,
    augmentations: Sequence[Augmentation],
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the arm's augmentations in order (masking before mixing, as listed in conf)."""
    for augmentation in augmentations:
        if isinstance(augmentation, SpecAugmentConfig):
            x = spec_augment(x, augmentation, generator)
        elif isinstance(augmentation, CMixupConfig):
            x, y = c_mixup(x, y, augmentation, generator)
        else:
            x, y = mixup(x, y, augmentation, generator)
    return x, y
