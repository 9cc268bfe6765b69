"""`training.training` as a typed config, and the `steps` budget: arms trained on more samples (real + synthetic)
take the optimiser steps of the real-only arm, not more, so an arm never wins by training longer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from music_emotion.config import from_section


@dataclass(frozen=True)
class TrainingConfig:
    """`training.training`: every key is required; the defaults live in conf/base."""

    epochs: int
    budget: Literal["epochs", "steps"]
    batch_size: int
    eval_batch_size: int
    learning_rate: float
    min_learning_rate: float
    warmup_fraction: float
    weight_decay: float
    grad_clip_norm: float | None
    early_stopping_patience: int | None
    mixed_precision: bool
    device_cache: str | bool
    device_cache_max_fraction: float
    compile: bool | str
    cpu_threads: int | None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TrainingConfig:
        config = from_section(cls, params, "training.training", "conf/base/parameters_training.yml")
        if config.epochs < 1 or config.batch_size < 1 or config.eval_batch_size < 1:
            raise ValueError("training.training: epochs, batch_size and eval_batch_size must be >= 1")
        if not 0 <= config.warmup_fraction < 1:
            raise ValueError("training.training.warmup_fraction must be in [0, 1)")
        return config



def epochs_for_budget(config: TrainingConfig, n_real_train: int, n_train: int) -> int:
    """Epochs over `n_train` samples that honour the budget.

    `steps`: as many optimiser steps as `config.epochs` epochs over the `n_real_train` real songs alone
    (rounded to whole epochs, at least one), so arms with and without extra samples get the same compute.
    """
    if config.budget == "epochs":
        return config.epochs
    real_steps = config.epochs * math.ceil(n_real_train / config.batch_size)
    return max(1, round(real_steps / math.ceil(n_train / config.batch_size)))
