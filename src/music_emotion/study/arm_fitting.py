"""Fitting one arm on one split: a ViT or AST fine-tuned on real (+ synthetic) TRAIN songs, or a baseline.

The single-split `training` pipeline and every unit of the `experiment` wire these same functions, so a
fold's models are fitted exactly as the single-split ones are."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from music_emotion.data import TARGETS
from music_emotion.data.corpus import Corpus
from music_emotion.data.features import pooled_mel_statistics
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.data.splits import split_ids, targets_for_ids
from music_emotion.models.families import build_regressor
from music_emotion.models.runtime import resolve_device, seed_everything, torch_threads
from music_emotion.study.arms import check_augmentations, parse_arms
from music_emotion.study.augment import parse_augmentation
from music_emotion.study.evaluation import warn_short_songs
from music_emotion.study.probe import fit_ridge_on_val
from music_emotion.study.synthetic import synthetic_training_samples
from music_emotion.study.training_config import budget_steps
from music_emotion.study.training_loop import (
    TrainingConfig,
    TrainingWindows,
    ValidationSongs,
    train_regressor,
)

logger = logging.getLogger(__name__)


def train_arm(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    arm: dict[str, Any],
    params: dict[str, Any],
    seed: int,
    device: str,
    arm_name: str = "vit",
    synthetic_spectrograms: SpectrogramSet | None = None,
    synthetic_labels: pd.DataFrame | None = None,
) -> tuple[nn.Module, pd.DataFrame]:
    """Train one ViT or AST arm: real TRAIN songs (+ synthetic samples), the arm's augmentations, best epoch on VAL.

    `mel_spectrograms` is the arm's feature set (the pipeline passes `ast_features` to an AST arm)."""
    seed_everything(seed)
    torch_device = resolve_device(device)
    config = TrainingConfig.from_params(params["optimisation"])
    spec = parse_arms({arm_name: arm}, None, "arms")[arm_name]
    check_augmentations({arm_name: spec}, params["augmentations"], "training.augmentations")
    augmentations = [parse_augmentation(name, params["augmentations"][name], "training.augmentations")
                     for name in spec.augmentations]
    corpus = Corpus(mel_spectrograms, emotion_labels, song_splits)
    train, val = corpus.train, corpus.val
    model = build_regressor(spec.model, params, mel_spectrograms, train)  # fails fast on a missing checkpoint
    window = model.window_frames

    for part in (train, val):
        warn_short_songs(part, window)
    arrays, sources = [mel_spectrograms.values], [(train.rows, train.targets, train.valid_frames)]
    if spec.synthetic:
        if synthetic_spectrograms is None or synthetic_labels is None:
            raise ValueError(f"arm {arm_name!r} has synthetic: {spec.synthetic} but no synthetic_spectrograms were "
                             "given")
        arrays.append(synthetic_spectrograms.values)
        sources.append(synthetic_training_samples(synthetic_spectrograms, synthetic_labels, mel_spectrograms,
                                                  song_splits, window))
    logger.info(
        "[%s] training a %s on %d real TRAIN songs + %d synthetic samples, augmentations %s; validating on %d VAL "
        "songs", arm_name, model.description, len(train), sum(len(s[0]) for s in sources[1:]),
        list(spec.augmentations) or "none", len(val),
    )
    train_windows = TrainingWindows(
        arrays,
        np.concatenate([np.full(len(s[0]), i, dtype=np.int64) for i, s in enumerate(sources)]),
        np.concatenate([s[0] for s in sources]),
        np.concatenate([s[1] for s in sources]),
        np.concatenate([s[2] for s in sources]),
        window, torch_device, config.device_cache, config.device_cache_max_fraction,
    )
    total_steps = budget_steps(config, len(train), len(train_windows))
    if config.budget == "steps" and len(train_windows) != len(train):
        logger.info("[%s] budget 'steps': %d optimiser steps over %d samples = the steps of %d epochs over the %d "
                    "real songs", arm_name, total_steps, len(train_windows), config.epochs, len(train))
    validation = ValidationSongs(mel_spectrograms.values, val.rows, val.targets, val.valid_frames)
    with torch_threads(config.cpu_threads):
        return train_regressor(model, train_windows, validation, config, augmentations, torch_device, seed, arm_name,
                               total_steps)


def fit_mean_baseline(emotion_labels: pd.DataFrame, song_splits: dict[str, Any]) -> dict[str, Any]:
    """Predict the mean TRAIN label for every song: the floor any model must clear (CCC 0 by construction)."""
    ids = split_ids(song_splits, "train")
    y = targets_for_ids(emotion_labels, ids, "train")
    return {"model": "mean_baseline", "n_train_songs": len(ids),
            **{t: float(y[:, i].mean()) for i, t in enumerate(TARGETS)}}


def fit_ridge_baseline(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    params: dict[str, Any],
) -> dict[str, Any]:
    """Ridge regression on pooled log-mel statistics (per-band mean/std), fit on TRAIN songs only.

    With several `alphas`, the one with the best mean CCC on VAL songs is kept (the model stays fit on
    TRAIN). Stored as plain numbers (JSON), no pickle.
    """
    corpus = Corpus(mel_spectrograms, emotion_labels, song_splits)
    train, val = corpus.train, corpus.val
    x_train = pooled_mel_statistics(mel_spectrograms.values, rows=train.rows)
    x_val = pooled_mel_statistics(mel_spectrograms.values, rows=val.rows)
    fitted = fit_ridge_on_val(x_train, train.targets, x_val, val.targets, [float(a) for a in params["alphas"]],
                              "training.baselines.ridge.alphas")
    logger.info("Ridge baseline: alpha %g (val mean CCC %.3f) on %d features", fitted["alpha"], fitted["val_ccc_mean"],
                x_train.shape[1])
    return {"model": "ridge_baseline", "feature": "pooled_mel_statistics", "alpha": fitted["alpha"],
            "val_ccc_mean_by_alpha": fitted["val_ccc_mean_by_alpha"], "n_train_songs": len(train),
            **{k: fitted[k] for k in ("scaler_mean", "scaler_scale", "coef", "intercept")}, "targets": list(TARGETS)}
