"""The flow-matching generator's tests reuse the GAN tests' toy data; its tiny settings live here."""

from __future__ import annotations

import copy
from typing import Any

from tests.conf_params import parameters
from tests.pipelines.gan_augmentation.conftest import WINDOW_FRAMES

# conf/base's diffusion_augmentation, shrunk: a tiny flow on 32-frame windows of 16 mel bins.
TINY_OVERRIDES = {
    "window_seconds": WINDOW_FRAMES * 512 / 22050,
    "network": {"channels": [32, 48], "embedding_dim": 32},
    "sampling": {"sampling_steps": 6, "guidance": 1.0},
    "training.steps": 400, "training.eval_every_steps": 200, "training.batch_size": 16,
    "training.learning_rate": 2.0e-3, "training.warmup_steps": 20, "training.ema_decay": 0.99,
    "training.cpu_threads": None,
}


def tiny_flow_parameters(**overrides: Any) -> dict[str, Any]:
    """conf/base's diffusion_augmentation with TINY_OVERRIDES (deep-copied: their nested dicts are never shared)."""
    return copy.deepcopy(parameters("diffusion_augmentation", **{**copy.deepcopy(TINY_OVERRIDES), **overrides}))
