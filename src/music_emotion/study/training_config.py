"""`training.optimisation` as a typed config, and the `steps` budget: arms trained on more samples (real + synthetic)
take the optimiser steps of the real-only arm, not more, so an arm never wins by training longer."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from music_emotion.config import from_section


@dataclass(frozen=True)
class TrainingConfig:
    """`training.optimisation`: every key is required; the defaults live in conf/base."""

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
        config = from_section(cls, params, "training.optimisation", "conf/base/parameters_training.yml")
        if config.epochs < 1 or config.batch_size < 1 or config.eval_batch_size < 1:
            raise ValueError("training.optimisation: epochs, batch_size and eval_batch_size must be >= 1")
        if not 0 <= config.warmup_fraction < 1:
            raise ValueError("training.optimisation.warmup_fraction must be in [0, 1)")
        return config


def budget_steps(config: TrainingConfig, n_real_train: int, n_train: int) -> int:
    """Optimiser steps of one arm's training on `n_train` samples (real + its synthetic ones).

    `epochs`: `config.epochs` passes over the arm's own samples. `steps`: exactly the steps of `config.epochs` passes
    over the `n_real_train` real songs alone, whatever the arm's sample count (its last pass stops part-way), so arms
    with and without extra samples get the same compute. (Rounding to whole passes instead gave a real + 3,200
    synthetic arm 3.5x the real-only arm's steps at `epochs: 1`, the DEAM rehearsal's budget.)
    """
    n = n_train if config.budget == "epochs" else n_real_train
    return config.epochs * math.ceil(n / config.batch_size)
