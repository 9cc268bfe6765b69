"""The ViT training loop, top to bottom: random crops in batches, augmentations, optimiser, epochs,
song-level validation, best checkpoint.

Speed rules that keep the loop device-bound:
- no per-item Python: a batch is a sorted index slice of the (memory-mapped) spectrogram arrays, read
  in one numpy call per source, cropped with one `gather`, moved to the device in one copy;
- on CUDA the training rows are uploaded once to GPU memory when they fit (`device_cache: auto`), so a
  step is a device-side gather with no host work at all;
- no host/device sync inside an epoch: losses and NaN flags accumulate on the device and are read once
  per epoch; fused AdamW, bf16 autocast on CUDA.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from music_emotion.config import from_section
from music_emotion.console import progress_bar
from music_emotion.data.windows import cut_windows, random_crop_starts, read_crops
from music_emotion.models.runtime import autocast
from music_emotion.models.song_prediction import predict_songs
from music_emotion.study import metrics
from music_emotion.study.augment import MixupConfig, SpecAugmentConfig, apply_augmentations

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = [
    "epoch", "step", "train_loss", "val_loss",
    "val_mae_valence", "val_mae_arousal", "val_ccc_valence", "val_ccc_arousal", "val_ccc_mean",
    "lr", "is_best", "train_windows_per_s", "seconds",
]  # fmt: skip


@dataclass(frozen=True)
class TrainingConfig:
    """`training.training`: every key is required; the defaults live in conf/base."""

    epochs: int
    budget: str
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
        if config.budget not in ("epochs", "steps"):
            raise ValueError(f"training.training.budget must be 'epochs' or 'steps', got {config.budget!r}")
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


class TrainingWindows:
    """Training samples = rows of one or more (memory-mapped) arrays (real songs, synthetic samples), with
    (n, 2) targets and the number of real frames per row; each epoch draws one crop per sample.

    The table is sorted by (source, row) once, so any sorted set of positions reads every array in
    ascending row order.
    """

    def __init__(
        self,
        arrays: Sequence[np.ndarray],
        source: np.ndarray,
        row: np.ndarray,
        targets: np.ndarray,
        valid_frames: np.ndarray,
        window: int,
        device: torch.device,
        cache_on_device: str | bool = False,
        cache_max_fraction: float = 0.4,
    ) -> None:
        if len(source) == 0:
            raise ValueError("TrainingWindows needs at least one sample")
        order = np.lexsort((row, source))
        self.arrays = list(arrays)
        self.source = np.asarray(source, dtype=np.int64)[order]
        self.row = np.asarray(row, dtype=np.int64)[order]
        self.targets_np = np.asarray(targets, dtype=np.float32)[order]
        self.valid_frames = np.asarray(valid_frames, dtype=np.int64)[order]
        self.window = int(window)
        self.device = device
        self.targets = torch.from_numpy(self.targets_np).to(device)
        self._cache = self._upload(cache_on_device, cache_max_fraction)

    def __len__(self) -> int:
        return len(self.row)

    def _upload(self, cache_on_device: str | bool, max_fraction: float) -> list[torch.Tensor] | None:
        """Copy each source's used rows to device memory once (never whole in host RAM on the way).

        `auto` caches on CUDA only, when the rows take under `max_fraction` of free GPU memory.
        """
        if cache_on_device in (False, "false", "off", None) or (cache_on_device == "auto" and self.device.type != "cuda"):
            return None
        nbytes = sum(int(np.prod(a.shape[1:])) * 4 * int((self.source == s).sum()) for s, a in enumerate(self.arrays))
        if cache_on_device == "auto":
            free, _ = torch.cuda.mem_get_info(self.device)
            if nbytes > max_fraction * free:
                logger.info("Not caching %.1f GB of spectrograms on the GPU (%.1f GB free)", nbytes / 1e9, free / 1e9)
                return None
        cache = []
        for s, array in enumerate(self.arrays):
            rows = self.row[self.source == s]
            cache.append(torch.from_numpy(np.asarray(array[rows], dtype=np.float32)).to(self.device))
        logger.info("Cached %d spectrograms (%.2f GB) on %s", len(self), nbytes / 1e9, self.device)
        return cache

    def batches(
        self, order: np.ndarray, batch_size: int, starts: np.ndarray
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(x dB (B, H, window), y (B, 2)) on the device for consecutive chunks of `order` (table positions),
        sample p cropped from frame `starts[p]`."""
        order = np.asarray(order, dtype=np.int64).copy()
        for begin in range(0, len(order), batch_size):
            positions = np.sort(order[begin : begin + batch_size])
            parts = []
            for s in np.unique(self.source[positions]):
                mine = positions[self.source[positions] == s]
                if self._cache is not None:
                    local = np.searchsorted(self.row[self.source == s], self.row[mine])
                    block, index = self._cache[s], torch.from_numpy(local).to(self.device)
                    parts.append(cut_windows(block, index, torch.from_numpy(starts[mine]), self.window))
                else:
                    parts.append(read_crops(self.arrays[s], self.row[mine], starts[mine], self.window))
            x = parts[0] if len(parts) == 1 else torch.cat(parts)
            y = self.targets[torch.from_numpy(positions).to(self.device)]
            if x.device != self.device:
                x = x.pin_memory().to(self.device, non_blocking=True) if self.device.type == "cuda" else x.to(self.device)
            yield x, y


@dataclass(frozen=True)
class ValidationSongs:
    """Real validation songs: the array, their rows, targets and real frames (predicted window by window)."""

    values: np.ndarray
    rows: np.ndarray
    targets: np.ndarray
    valid_frames: np.ndarray


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


def train_regressor(
    model: nn.Module,
    train: TrainingWindows,
    val: ValidationSongs,
    config: TrainingConfig,
    augmentations: Sequence[SpecAugmentConfig | MixupConfig],
    device: torch.device,
    seed: int,
    run_name: str = "vit",
) -> tuple[nn.Module, pd.DataFrame]:
    """MSE on random crops + AdamW + warm-up/cosine; keep the epoch with the best song-level mean val CCC.

    Returns the model (best weights, on CPU, eval mode) and the per-epoch history.
    """
    model.to(device)
    optimizer = make_optimizer(model, config, device)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    scheduler = warmup_cosine(optimizer, config, config.epochs * steps_per_epoch)
    forward = _maybe_compile(model.predict, config.compile)
    crop_rng = np.random.default_rng(seed)
    order_generator = torch.Generator().manual_seed(seed)
    augment_generator = torch.Generator().manual_seed(seed + 1)
    trainable = [p for p in model.parameters() if p.requires_grad]
    logger.info(
        "[%s] %d training samples (one %d-frame crop each per epoch), %d validation songs, %d epochs x %d steps of %d on %s",
        run_name, len(train), train.window, len(val.rows), config.epochs, steps_per_epoch, config.batch_size, device,
    )

    best_ccc, best_epoch, best_state, step = -math.inf, 0, None, 0
    run_started = time.perf_counter()
    history: list[dict[str, Any]] = []
    family = getattr(model, "family", "vit").upper()
    bar = progress_bar(total=config.epochs * steps_per_epoch, desc=f"{family} {run_name}", unit="step")
    for epoch in range(1, config.epochs + 1):
        # ---- train one epoch: a fresh random crop of every sample (no host sync until the end)
        model.train()
        started = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        starts = random_crop_starts(train.valid_frames, train.window, crop_rng)
        order = torch.randperm(len(train), generator=order_generator).numpy()
        loss_sum = torch.zeros((), device=device)
        nonfinite = torch.zeros((), dtype=torch.bool, device=device)
        for x, y in train.batches(order, config.batch_size, starts):
            x, y = apply_augmentations(x, y, augmentations, augment_generator)
            with autocast(device, config.mixed_precision):
                prediction = forward(x).float()
            loss = F.mse_loss(prediction, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip_norm:
                torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip_norm)
            optimizer.step()
            scheduler.step()
            step += 1
            loss_sum += loss.detach() * len(y)
            nonfinite |= ~torch.isfinite(loss.detach())
            bar.update(1)
        if bool(nonfinite):  # the one sync per epoch
            raise FloatingPointError(
                f"[{run_name}] training loss became NaN/inf in epoch {epoch}; lower "
                "training.training.learning_rate, keep grad_clip_norm set, or check the inputs for NaN"
            )
        train_seconds = time.perf_counter() - started

        # ---- validate on real VAL songs only: every window, averaged per song
        val_pred = predict_songs(model, val.values, val.rows, val.valid_frames, config.eval_batch_size, device,
                                 config.mixed_precision).songs
        row = {
            "epoch": epoch,
            "step": step,
            "train_loss": float(loss_sum) / len(train),
            "val_loss": float(np.mean((val_pred - val.targets) ** 2)),
            "lr": lr,
            "train_windows_per_s": len(train) / train_seconds,
        }
        for t, target in enumerate(metrics.TARGETS):
            row[f"val_mae_{target}"] = metrics.mae(val.targets[:, t], val_pred[:, t])
            row[f"val_ccc_{target}"] = metrics.ccc(val.targets[:, t], val_pred[:, t])
        row["val_ccc_mean"] = float(np.mean([row[f"val_ccc_{t}"] for t in metrics.TARGETS]))
        row["seconds"] = time.perf_counter() - run_started  # training + validation so far
        if not np.isfinite(row["val_loss"]):
            raise FloatingPointError(f"[{run_name}] validation predictions are NaN/inf after epoch {epoch}")

        # ---- keep the best epoch (by mean song-level validation CCC)
        if row["val_ccc_mean"] > best_ccc:
            best_ccc, best_epoch = row["val_ccc_mean"], epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        history.append(row)
        bar.set_postfix_str(f"epoch {epoch} val CCC V {row['val_ccc_valence']:.2f} A {row['val_ccc_arousal']:.2f}")
        logger.debug(
            "[%s] epoch %d/%d  train_loss %.4f  val_loss %.4f  val CCC V %.3f A %.3f  (%.0f windows/s)",
            run_name, epoch, config.epochs, row["train_loss"], row["val_loss"],
            row["val_ccc_valence"], row["val_ccc_arousal"], row["train_windows_per_s"],
        )
        patience = config.early_stopping_patience
        if patience and epoch - best_epoch >= patience:
            logger.info("[%s] early stop after epoch %d: no better val CCC for %d epochs", run_name, epoch, patience)
            break
    bar.close()

    # ---- restore the best weights and hand back a CPU model
    model.load_state_dict(best_state)
    model.to("cpu").eval()
    frame = pd.DataFrame(history)
    frame["is_best"] = frame["epoch"] == best_epoch
    logger.info("[%s] %d epochs, %d steps; best epoch %d with song-level mean val CCC %.3f",
                run_name, len(frame), step, best_epoch, best_ccc)
    return model, frame[HISTORY_COLUMNS]


def _maybe_compile(function, compile: bool | str):
    """`compile: true` = torch.compile defaults; a string is a torch.compile mode (e.g. "reduce-overhead")."""
    if not compile:
        return function
    return torch.compile(function, mode=None if compile is True else str(compile))
