"""The ViT training loop, top to bottom: data in batches, optimiser, epochs, validation, best checkpoint.

Speed rules that keep the loop GPU-bound (see docs/readme/vit_training.md for measured figures):
- no per-item Python: a batch is a sorted index slice of the (memory-mapped) spectrogram arrays,
  read in one numpy call, moved to the device in one copy, and resized/normalised there in one
  `F.interpolate` call (`prepare_vit_inputs`);
- on CUDA the training rows are uploaded once to GPU memory when they fit (`device_cache: auto`), so a step
  is a device-side gather with no host work at all;
- no host/device sync inside an epoch: losses, NaN flags and predictions accumulate on the device and
  are read once per epoch; fused AdamW, bf16 autocast on CUDA.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from music_emotion import metrics
from music_emotion.runtime import autocast, show_progress

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = [
    "epoch", "train_loss", "val_loss",
    "train_mae_valence", "train_mae_arousal", "val_mae_valence", "val_mae_arousal",
    "train_ccc_valence", "train_ccc_arousal", "val_ccc_valence", "val_ccc_arousal", "val_ccc_mean",
    "lr", "is_best", "train_images_per_s",
]  # fmt: skip


@dataclass(frozen=True)
class TrainingConfig:
    """`vit_training.training` parameters."""

    epochs: int = 50
    batch_size: int = 16
    eval_batch_size: int = 64
    learning_rate: float = 1e-4
    min_learning_rate: float = 0.0
    weight_decay: float = 0.05
    grad_clip_norm: float | None = 1.0
    early_stopping_patience: int | None = None
    mixed_precision: bool = True
    device_cache: str | bool = "auto"
    compile: bool | str = False
    cpu_threads: int | None = None
    # "epochs": both namespaces run `epochs` passes over their own training set (augmented takes more
    # optimiser steps); "steps": augmented runs as many optimiser steps as real_only (fewer, larger epochs).
    budget: str = "epochs"

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TrainingConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"Unknown vit_training.training parameter(s) {unknown}; known: {sorted(known)}")
        config = cls(**params)
        if config.epochs < 1 or config.batch_size < 1 or config.eval_batch_size < 1:
            raise ValueError("vit_training.training: epochs, batch_size and eval_batch_size must be >= 1")
        if config.budget not in ("epochs", "steps"):
            raise ValueError(f"vit_training.training.budget must be 'epochs' or 'steps', got {config.budget!r}")
        return config


def epochs_for_budget(config: TrainingConfig, n_real_train: int, n_train: int) -> int:
    """Epochs over `n_train` samples that honour the budget.

    `steps`: as many optimiser steps as `config.epochs` epochs over the `n_real_train` real songs alone
    (rounded to whole epochs, at least one), so real_only and augmented get the same compute.
    """
    if config.budget == "epochs":
        return config.epochs
    real_steps = config.epochs * math.ceil(n_real_train / config.batch_size)
    return max(1, round(real_steps / math.ceil(n_train / config.batch_size)))


class SpectrogramBatches:
    """Samples = rows of one or more (memory-mapped) spectrogram arrays, with their (n, 2) targets.

    The table is sorted by (source, row) once, so any sorted set of positions reads every array in
    ascending row order. `batches(order, batch_size)` yields them on `device`.
    """

    def __init__(
        self,
        arrays: list[np.ndarray],
        source: np.ndarray,
        row: np.ndarray,
        targets: np.ndarray,
        device: torch.device,
        cache_on_device: str | bool = False,
    ) -> None:
        if len(source) == 0:
            raise ValueError("SpectrogramBatches needs at least one sample")
        order = np.lexsort((row, source))
        self.arrays = arrays
        self.source = np.asarray(source, dtype=np.int64)[order]
        self.row = np.asarray(row, dtype=np.int64)[order]
        self.targets_np = np.asarray(targets, dtype=np.float32)[order]
        self.device = device
        self.targets = torch.from_numpy(self.targets_np).to(device)
        self._cache = self._upload(cache_on_device)

    def __len__(self) -> int:
        return len(self.row)

    def _upload(self, cache_on_device: str | bool) -> torch.Tensor | None:
        """Copy the used rows to device memory once, chunk by chunk (never whole in host RAM on the way).

        `auto` caches on CUDA only, when the rows take under 40% of free GPU memory; `true` always caches
        (on CPU that means holding the training rows in RAM instead of reading the memory map).
        """
        if cache_on_device in (False, "false", "off", None) or (
            cache_on_device == "auto" and self.device.type != "cuda"
        ):
            return None
        n_mels, n_frames = self.arrays[0].shape[1:]
        nbytes = len(self) * n_mels * n_frames * 4
        if cache_on_device == "auto":  # CUDA here
            free, _ = torch.cuda.mem_get_info(self.device)
            if nbytes > 0.4 * free:
                logger.info("Not caching %.1f GB of spectrograms on the GPU (%.1f GB free)", nbytes / 1e9, free / 1e9)
                return None
        cache = torch.empty((len(self), n_mels, n_frames), dtype=torch.float32, device=self.device)
        for start in range(0, len(self), 256):
            cache[start : start + 256] = self._read(np.arange(start, min(start + 256, len(self)))).to(self.device)
        logger.info("Cached %d spectrograms (%.2f GB) on %s", len(self), nbytes / 1e9, self.device)
        return cache

    def _read(self, positions: np.ndarray) -> torch.Tensor:
        """Host tensor of the rows at sorted `positions`: one numpy read per source array."""
        source, row = self.source[positions], self.row[positions]
        parts = [np.asarray(self.arrays[s][row[source == s]], dtype=np.float32) for s in np.unique(source)]
        return torch.from_numpy(parts[0] if len(parts) == 1 else np.concatenate(parts))

    def batches(self, order: np.ndarray, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(x dB (B, H, W), y (B, 2)) on the device for consecutive chunks of `order` (table positions).

        Never blocks on the GPU: with the device cache the whole order is copied once and batches are
        device-side gathers; otherwise each batch is read in row order into pinned memory and copied
        asynchronously.
        """
        order = np.asarray(order, dtype=np.int64).copy()
        for start in range(0, len(order), batch_size):  # same batches either way: sorted within each
            order[start : start + batch_size].sort()
        if self._cache is not None:
            order_on_device = torch.from_numpy(order).to(self.device)
            for start in range(0, len(order), batch_size):
                index = order_on_device[start : start + batch_size]
                yield self._cache[index], self.targets[index]
            return
        for start in range(0, len(order), batch_size):
            positions = order[start : start + batch_size]
            x, y = self._read(positions), torch.from_numpy(self.targets_np[positions])
            if self.device.type == "cuda":
                x = x.pin_memory().to(self.device, non_blocking=True)
                y = y.pin_memory().to(self.device, non_blocking=True)
            yield x, y


def train_regressor(
    model: nn.Module,
    train: SpectrogramBatches,
    val: SpectrogramBatches,
    config: TrainingConfig,
    device: torch.device,
    generator: torch.Generator,
    run_name: str = "vit",
) -> tuple[nn.Module, pd.DataFrame]:
    """Train with MSE + AdamW + cosine annealing; keep the epoch with the best mean validation CCC.

    Returns the model (best weights, on CPU, eval mode) and the per-epoch history.
    """
    # ---- optimiser: weight decay on matrices only (not biases, norms, embeddings' 1-D params)
    model.to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("The model has no trainable parameters (frozen backbone and no head?)")
    groups = [
        {"params": [p for p in trainable if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate, fused=device.type == "cuda")
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.epochs * steps_per_epoch, eta_min=config.min_learning_rate
    )
    forward = _maybe_compile(model.predict, config.compile)
    logger.info(
        "[%s] %d training samples, %d validation songs, %d epochs x %d steps of %d on %s",
        run_name, len(train), len(val), config.epochs, steps_per_epoch, config.batch_size, device,
    )

    best_ccc, best_epoch, best_state = -math.inf, 0, None
    history: list[dict[str, Any]] = []
    for epoch in range(1, config.epochs + 1):
        # ---- train one epoch (no host sync until the end of it)
        model.train()
        started = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        order = torch.randperm(len(train), generator=generator).numpy()
        loss_sum = torch.zeros((), device=device)
        nonfinite = torch.zeros((), dtype=torch.bool, device=device)
        predictions, targets = [], []
        batches = train.batches(order, config.batch_size)
        for x, y in tqdm(
            batches, total=steps_per_epoch, desc=f"{run_name} epoch {epoch}", leave=False, disable=not show_progress()
        ):
            with autocast(device, config.mixed_precision):
                prediction = forward(x).float()
            loss = F.mse_loss(prediction, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip_norm:
                torch.nn.utils.clip_grad_norm_(trainable, config.grad_clip_norm)
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach() * len(y)
            nonfinite |= ~torch.isfinite(loss.detach())
            predictions.append(prediction.detach())
            targets.append(y)
        if bool(nonfinite):  # the one sync per epoch
            raise FloatingPointError(
                f"[{run_name}] training loss became NaN/inf in epoch {epoch}; lower "
                "vit_training.training.learning_rate, keep grad_clip_norm set, or check the inputs for NaN"
            )
        train_seconds = time.perf_counter() - started
        train_pred = torch.cat(predictions).cpu().numpy()
        train_true = torch.cat(targets).cpu().numpy()

        # ---- validate on real VAL songs only
        val_pred = predict_batches(model, val, config, device)
        val_true = val.targets_np
        row = {
            "epoch": epoch,
            "train_loss": float(loss_sum) / len(train),
            "val_loss": float(np.mean((val_pred - val_true) ** 2)),
            "lr": lr,
            "train_images_per_s": len(train) / train_seconds,
        }
        for t, target in enumerate(metrics.TARGETS):
            row[f"train_mae_{target}"] = metrics.mae(train_true[:, t], train_pred[:, t])
            row[f"val_mae_{target}"] = metrics.mae(val_true[:, t], val_pred[:, t])
            row[f"train_ccc_{target}"] = metrics.ccc(train_true[:, t], train_pred[:, t])
            row[f"val_ccc_{target}"] = metrics.ccc(val_true[:, t], val_pred[:, t])
        row["val_ccc_mean"] = float(np.mean([row[f"val_ccc_{t}"] for t in metrics.TARGETS]))
        if not np.isfinite(row["val_loss"]):
            raise FloatingPointError(f"[{run_name}] validation predictions are NaN/inf after epoch {epoch}")

        # ---- keep the best epoch (by mean validation CCC)
        if row["val_ccc_mean"] > best_ccc:
            best_ccc, best_epoch = row["val_ccc_mean"], epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        history.append(row)
        logger.info(
            "[%s] epoch %d/%d  train_loss %.4f  val_loss %.4f  val CCC V %.3f A %.3f  (%.0f img/s)",
            run_name, epoch, config.epochs, row["train_loss"], row["val_loss"],
            row["val_ccc_valence"], row["val_ccc_arousal"], row["train_images_per_s"],
        )
        patience = config.early_stopping_patience
        if patience and epoch - best_epoch >= patience:
            logger.info("[%s] early stop after epoch %d: no better val CCC for %d epochs", run_name, epoch, patience)
            break

    # ---- restore the best weights and hand back a CPU model
    model.load_state_dict(best_state)
    model.to("cpu").eval()
    frame = pd.DataFrame(history)
    frame["is_best"] = frame["epoch"] == best_epoch
    logger.info("[%s] best epoch %d with mean val CCC %.3f", run_name, best_epoch, best_ccc)
    return model, frame[HISTORY_COLUMNS]


@torch.no_grad()
def predict_batches(
    model: nn.Module, batches: SpectrogramBatches, config: TrainingConfig, device: torch.device
) -> np.ndarray:
    """(n, 2) predictions in `batches` table order (eval mode; one host copy at the end)."""
    model.eval()
    out = []
    for x, _ in batches.batches(np.arange(len(batches)), config.eval_batch_size):
        with autocast(device, config.mixed_precision):
            out.append(model.predict(x).float())
    return torch.cat(out).cpu().numpy()


def benchmark_train_step(
    model_params: dict[str, Any],
    input_shape: tuple[int, int] = (128, 1292),
    batch_size: int = 16,
    steps: int = 50,
    device: str = "auto",
    mixed_precision: bool = True,
    compile: bool | str = False,
) -> dict[str, Any]:
    """Training images/s of the full step (device-side resize/normalise, forward, backward, AdamW) on random
    dB spectrograms already on the device: the figure the README quotes. Not used by the pipeline."""
    from music_emotion.models.vit_regression import build_vit_regressor
    from music_emotion.runtime import resolve_device

    torch_device = resolve_device(device)
    model = build_vit_regressor(model_params, {}, (-80.0, 0.0)).to(torch_device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=torch_device.type == "cuda")
    forward = _maybe_compile(model.predict, compile)
    x = torch.rand((batch_size, *input_shape), device=torch_device) * -80.0
    y = torch.zeros((batch_size, 2), device=torch_device)

    def step() -> None:
        with autocast(torch_device, mixed_precision):
            loss = F.mse_loss(forward(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(max(3, steps // 10)):  # warm-up (cuDNN/compile)
        step()
    if torch_device.type == "cuda":
        torch.cuda.synchronize(torch_device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if torch_device.type == "cuda":
        torch.cuda.synchronize(torch_device)
    seconds = time.perf_counter() - started
    return {
        "device": str(torch_device),
        "batch_size": batch_size,
        "input_shape": list(input_shape),
        "images_per_s": batch_size * steps / seconds,
        "mixed_precision": mixed_precision and torch_device.type == "cuda",
        "compile": compile,
    }


def _maybe_compile(function, compile: bool | str):
    """`compile: true` = torch.compile defaults; a string is a torch.compile mode (e.g. "reduce-overhead")."""
    if not compile:
        return function
    return torch.compile(function, mode=None if compile is True else str(compile))
