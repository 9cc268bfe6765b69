"""One optimiser step of the fine-tuning loop, and how it is set up: AdamW with weight decay on weight matrices
only, linear warm-up then cosine, gradient clipping, an optional torch.compile'd forward."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from music_emotion.models.runtime import autocast
from music_emotion.study.training_config import TrainingConfig


def make_optimizer(model: nn.Module, config: TrainingConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on weight matrices only (not biases, norms or 1-D embeddings)."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("The model has no trainable parameters (frozen backbone and no head?)")
    groups = [
        {"params": [p for p in trainable if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.learning_rate, fused=device.type == "cuda")


def warmup_cosine(optimizer: torch.optim.Optimizer, config: TrainingConfig, total_steps: int):
    """Linear warm-up over `warmup_fraction` of the steps, then cosine decay to `min_learning_rate`."""
    warmup = int(config.warmup_fraction * total_steps)
    floor = config.min_learning_rate / config.learning_rate if config.learning_rate else 0.0

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@dataclass
class Optimiser:
    """One optimiser step of the regression loss: AdamW, its warm-up/cosine schedule, the (maybe compiled)
    forward, gradient clipping; counts the steps taken."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    forward: Any
    trainable: list[torch.Tensor]
    config: TrainingConfig
    device: torch.device
    steps: int = 0

    @classmethod
    def for_model(cls, model: nn.Module, config: TrainingConfig, device: torch.device, total_steps: int) -> Optimiser:
        optimizer = make_optimizer(model, config, device)
        return cls(optimizer, warmup_cosine(optimizer, config, total_steps),
                   _maybe_compile(model.predict, config.compile),
                   [p for p in model.parameters() if p.requires_grad], config, device)

    @property
    def learning_rate(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Forward, MSE, backward, clip, step; the batch's loss (detached, on the device: no host sync)."""
        with autocast(self.device, self.config.mixed_precision):
            prediction = self.forward(x).float()
        loss = F.mse_loss(prediction, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip_norm:
            torch.nn.utils.clip_grad_norm_(self.trainable, self.config.grad_clip_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.steps += 1
        return loss.detach()


def _maybe_compile(function, compile: bool | str):
    """`compile: true` = torch.compile defaults; a string is a torch.compile mode (e.g. "reduce-overhead")."""
    if not compile:
        return function
    return torch.compile(function, mode=None if compile is True else str(compile))
