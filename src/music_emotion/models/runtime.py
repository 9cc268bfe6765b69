"""Seeding, device choice and mixed precision: the few things every training node shares."""

from __future__ import annotations

import contextlib
import logging
import random

import numpy as np
import torch

logger = logging.getLogger(__name__)

# One `seed` drives splits, folds, the GAN and training. Random streams that must not replay another's draws
# start from the seed plus one of these offsets (the data order and crops use the seed itself).
AUGMENTATION_SEED_OFFSET = 1  # SpecAugment / mixup while fine-tuning, DiffAugment while training the GAN
PROBE_CONDITIONS_SEED_OFFSET = 2  # the GAN conditioning probe's fixed V/A conditions ...
PROBE_NOISE_SEED_OFFSET = 3  # ... and its fixed latent noise

# Every training, sampling and evaluation node resolves the device; a run says which one once, not 18 times.
_announced_devices: set[str] = set()


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices) and return a CPU generator for data order."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def resolve_device(requested: str | None = "auto") -> torch.device:
    """`auto` picks CUDA when present, else CPU; an explicit device that is unavailable is an error."""
    requested = (requested or "auto").lower()
    if requested == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                f"device '{requested}' was asked for but CUDA is not available; set device: auto or cpu"
            )
    if str(device) not in _announced_devices:
        _announced_devices.add(str(device))
        logger.info("Using device %s", device)
    return device


def autocast(device: torch.device, enabled: bool = True, dtype: str = "bfloat16"):
    """bf16 autocast on CUDA; a no-op context elsewhere (CPU results stay exact and deterministic)."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=getattr(torch, dtype))
    return contextlib.nullcontext()


@contextlib.contextmanager
def torch_threads(n_threads: int | None):
    """Run with `n_threads` CPU threads (tiny models are fastest on 1 and never oversubscribe shared cores)."""
    previous = torch.get_num_threads()
    if n_threads:
        torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
