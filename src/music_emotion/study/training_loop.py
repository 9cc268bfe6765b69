"""The fine-tuning loop of every ViT and AST arm, top to bottom: random crops in batches, augmentations,
optimiser steps, epochs, song-level validation, best checkpoint.

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
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from music_emotion.console import progress_bar
from music_emotion.data import TARGETS
from music_emotion.data.windows import random_crop_starts
from music_emotion.models.runtime import AUGMENTATION_SEED_OFFSET
from music_emotion.models.song_prediction import predict_songs
from music_emotion.study import metrics
from music_emotion.study.augment import Augmentation, apply_augmentations
from music_emotion.study.batches import TrainingWindows, ValidationSongs
from music_emotion.study.optimiser import Optimiser
from music_emotion.study.training_config import TrainingConfig

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = [
    "epoch", "step", "train_loss", "val_loss",
    "val_mae_valence", "val_mae_arousal", "val_ccc_valence", "val_ccc_arousal", "val_ccc_mean",
    "lr", "is_best", "train_windows_per_s", "seconds",
]  # fmt: skip


def train_regressor(
    model: nn.Module,
    train: TrainingWindows,
    val: ValidationSongs,
    config: TrainingConfig,
    augmentations: Sequence[Augmentation],
    device: torch.device,
    seed: int,
    run_name: str,
    total_steps: int | None = None,
) -> tuple[nn.Module, pd.DataFrame]:
    """MSE on random crops + AdamW + warm-up/cosine; keep the epoch with the best song-level mean val CCC.

    `total_steps` (the arm's budget, `budget_steps`; None = `config.epochs` whole passes) ends the last pass
    part-way when it is not a whole number of passes. Returns the model (best weights, on CPU, eval mode) and the
    per-epoch history.
    """
    model.to(device)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    if total_steps is None:
        total_steps = config.epochs * steps_per_epoch
    epochs = math.ceil(total_steps / steps_per_epoch)
    optimiser = Optimiser.for_model(model, config, device, total_steps)
    crop_rng = np.random.default_rng(seed)
    order_generator = torch.Generator().manual_seed(seed)
    augment_generator = torch.Generator().manual_seed(seed + AUGMENTATION_SEED_OFFSET)
    logger.info(
        "[%s] %d training samples (one %d-frame crop each per epoch), %d validation songs, %d optimiser steps of %d "
        "(%d epochs of up to %d steps) on %s",
        run_name, len(train), train.window, len(val.rows), total_steps, config.batch_size, epochs, steps_per_epoch,
        device,
    )

    best_ccc, best_epoch, best_state = -math.inf, 0, None
    run_started = time.perf_counter()
    history: list[dict[str, Any]] = []
    family = getattr(model, "family", "vit").upper()
    bar = progress_bar(total=total_steps, desc=f"{family} {run_name}", unit="step")
    for epoch in range(1, epochs + 1):
        # ---- train one epoch: a fresh random crop of every sample, then validate on real VAL songs
        started, lr = time.perf_counter(), optimiser.learning_rate
        starts = random_crop_starts(train.valid_frames, train.window, crop_rng)
        order = torch.randperm(len(train), generator=order_generator).numpy()
        order = order[: (total_steps - optimiser.steps) * config.batch_size]  # the budget may end a pass part-way
        train_loss = train_one_epoch(model, optimiser, train, order, starts, augmentations, augment_generator, bar)
        if train_loss is None:
            raise FloatingPointError(
                f"[{run_name}] training loss became NaN/inf in epoch {epoch}; lower "
                "training.optimisation.learning_rate, keep grad_clip_norm set, or check the inputs for NaN"
            )
        row = {"epoch": epoch, "step": optimiser.steps, "train_loss": train_loss,
               **validation_scores(model, val, config, device),
               "lr": lr, "train_windows_per_s": len(order) / (time.perf_counter() - started)}
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
            run_name, epoch, epochs, row["train_loss"], row["val_loss"],
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
                run_name, len(frame), optimiser.steps, best_epoch, best_ccc)
    return model, frame[HISTORY_COLUMNS]


def train_one_epoch(
    model: nn.Module, optimiser: Optimiser, train: TrainingWindows, order: np.ndarray, starts: np.ndarray,
    augmentations: Sequence[Augmentation], augment_generator: torch.Generator, bar,
) -> float | None:
    """One pass over the samples in `order`, each cropped at `starts`: the mean training loss, or None when a
    loss was NaN/inf. Losses and the NaN flag stay on the device and are read once, at the end."""
    model.train()
    device = optimiser.device
    loss_sum = torch.zeros((), device=device)
    nonfinite = torch.zeros((), dtype=torch.bool, device=device)
    for x, y in train.batches(order, optimiser.config.batch_size, starts):
        x, y = apply_augmentations(x, y, augmentations, augment_generator)
        loss = optimiser.step(x, y)
        loss_sum += loss * len(y)
        nonfinite |= ~torch.isfinite(loss)
        bar.update(1)
    if bool(nonfinite):  # the one sync per epoch
        return None
    return float(loss_sum) / len(order)


def validation_scores(model: nn.Module, val: ValidationSongs, config: TrainingConfig,
                      device: torch.device) -> dict[str, float]:
    """Song-level validation: every window of each real VAL song, averaged per song -> loss, MAE and CCC."""
    val_pred = predict_songs(model, val.values, val.rows, val.valid_frames, config.eval_batch_size, device,
                             config.mixed_precision).songs
    scores = {"val_loss": float(np.mean((val_pred - val.targets) ** 2))}
    for t, target in enumerate(TARGETS):
        scores[f"val_mae_{target}"] = metrics.mae(val.targets[:, t], val_pred[:, t])
        scores[f"val_ccc_{target}"] = metrics.ccc(val.targets[:, t], val_pred[:, t])
    scores["val_ccc_mean"] = float(np.mean([scores[f"val_ccc_{t}"] for t in TARGETS]))
    return scores


