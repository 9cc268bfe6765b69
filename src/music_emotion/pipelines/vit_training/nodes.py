"""`vit_training` nodes: the ViT trained twice (real only / real + synthetic), two baselines, one test.

The protocol: train on real TRAIN songs (+ synthetic samples in the `augmented` run), choose the
checkpoint on real VAL songs only, and touch the real TEST songs once, in `evaluate_test_set`, where all
four models are scored on the same songs with bootstrap CIs.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from music_emotion import metrics
from music_emotion.features import pooled_mel_statistics
from music_emotion.models.vit_regression import build_vit_regressor, predict_spectrograms
from music_emotion.pipelines.vit_training.training import (
    SpectrogramBatches,
    TrainingConfig,
    epochs_for_budget,
    train_regressor,
)
from music_emotion.runtime import resolve_device, seed_everything, torch_threads
from music_emotion.spectrograms import SpectrogramSet, db_range
from music_emotion.splits import split_ids, targets_for_ids

logger = logging.getLogger(__name__)

TARGETS = list(metrics.TARGETS)
SPLITS = ("train", "val", "test")


def train_vit_real_only(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    params: dict[str, Any],
    seed: int,
    device: str,
) -> tuple[nn.Module, pd.DataFrame]:
    """The ablation: the ViT on real TRAIN songs only (no synthetic input at all)."""
    return _train_vit(mel_spectrograms, emotion_labels, song_splits, None, None, params, seed, device, "real_only")


def train_vit_augmented(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    synthetic_spectrograms: SpectrogramSet,
    synthetic_labels: pd.DataFrame,
    params: dict[str, Any],
    seed: int,
    device: str,
) -> tuple[nn.Module, pd.DataFrame]:
    """The ViT on real TRAIN songs + GAN samples; same seed, split, and hyperparameters as real_only."""
    return _train_vit(
        mel_spectrograms, emotion_labels, song_splits, synthetic_spectrograms, synthetic_labels,
        params, seed, device, "augmented",
    )


def _train_vit(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    synthetic_spectrograms: SpectrogramSet | None,
    synthetic_labels: pd.DataFrame | None,
    params: dict[str, Any],
    seed: int,
    device: str,
    run_name: str,
) -> tuple[nn.Module, pd.DataFrame]:
    generator = seed_everything(seed)
    torch_device = resolve_device(device)
    config = TrainingConfig.from_params(params.get("training", {}))
    train_ids, val_ids = split_ids(song_splits, "train"), split_ids(song_splits, "val")
    arrays = [mel_spectrograms.values]
    source = [np.zeros(len(train_ids), dtype=np.int64)]
    rows = [mel_spectrograms.indices_of(train_ids)]
    targets = [targets_for_ids(emotion_labels, train_ids, "train")]
    if synthetic_spectrograms is not None:
        synthetic_rows, synthetic_targets = _synthetic_samples(
            synthetic_spectrograms, synthetic_labels, mel_spectrograms, song_splits
        )
        arrays.append(synthetic_spectrograms.values)
        source.append(np.ones(len(synthetic_rows), dtype=np.int64))
        rows.append(synthetic_rows)
        targets.append(synthetic_targets)
    logger.info(
        "[%s] training on %d real TRAIN songs + %d synthetic samples; validating on %d real VAL songs",
        run_name, len(train_ids), sum(len(r) for r in rows[1:]), len(val_ids),
    )
    train = SpectrogramBatches(
        arrays, np.concatenate(source), np.concatenate(rows), np.concatenate(targets), torch_device,
        cache_on_device=config.device_cache,
    )
    val = SpectrogramBatches(
        [mel_spectrograms.values], np.zeros(len(val_ids), dtype=np.int64), mel_spectrograms.indices_of(val_ids),
        targets_for_ids(emotion_labels, val_ids, "val"), torch_device, cache_on_device=config.device_cache,
    )
    epochs = epochs_for_budget(config, len(train_ids), len(train))
    if epochs != config.epochs:
        logger.info("[%s] budget 'steps': %d epochs over %d samples = the optimiser steps of %d epochs over "
                    "the %d real songs", run_name, epochs, len(train), config.epochs, len(train_ids))
        config = dataclasses.replace(config, epochs=epochs)
    low, high, _ = db_range(  # the real TRAIN songs' range when the extraction has no fixed one
        mel_spectrograms, rows[0], params.get("model", {}).get("db_range"), "vit_training.model.db_range"
    )
    model = build_vit_regressor(params.get("model", {}), mel_spectrograms.meta.get("extraction"), (low, high))
    with torch_threads(config.cpu_threads):
        return train_regressor(model, train, val, config, torch_device, generator, run_name=run_name)


def fit_mean_baseline(emotion_labels: pd.DataFrame, song_splits: dict[str, Any]) -> dict[str, Any]:
    """Predict the mean TRAIN label for every song: the floor any model must clear (CCC 0 by construction)."""
    train_ids = split_ids(song_splits, "train")
    y = targets_for_ids(emotion_labels, train_ids, "train")
    return {"n_train_songs": len(train_ids), **{t: float(y[:, i].mean()) for i, t in enumerate(TARGETS)}}


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
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    train_ids, val_ids = split_ids(song_splits, "train"), split_ids(song_splits, "val")
    x_train, y_train = _pooled_features(mel_spectrograms, train_ids), targets_for_ids(emotion_labels, train_ids, "train")
    x_val, y_val = _pooled_features(mel_spectrograms, val_ids), targets_for_ids(emotion_labels, val_ids, "val")
    scaler = StandardScaler().fit(x_train)
    alphas = [float(a) for a in params.get("alphas", [1.0])]
    if not alphas:
        raise ValueError("vit_training.baselines.ridge.alphas is empty: give at least one alpha")
    val_ccc: dict[str, float] = {}
    best: tuple[float, Any] | None = None
    for alpha in alphas:
        ridge = Ridge(alpha=alpha).fit(scaler.transform(x_train), y_train)
        pred = ridge.predict(scaler.transform(x_val))
        score = float(np.mean([metrics.ccc(y_val[:, i], pred[:, i]) for i in range(len(TARGETS))]))
        val_ccc[str(alpha)] = score
        if best is None or score > best[0]:
            best = (score, ridge)
    ridge = best[1]
    logger.info("Ridge baseline: alpha %g (val mean CCC %.3f) on %d features", ridge.alpha, best[0], x_train.shape[1])
    return {
        "feature": "pooled_mel_statistics",
        "alpha": float(ridge.alpha),
        "val_ccc_mean_by_alpha": val_ccc,
        "n_train_songs": len(train_ids),
        "scaler_mean": scaler.mean_.tolist(),
        "scaler_scale": scaler.scale_.tolist(),
        "coef": ridge.coef_.tolist(),
        "intercept": np.atleast_1d(ridge.intercept_).tolist(),
        "targets": TARGETS,
    }


def predict_ridge_baseline(ridge_baseline: dict[str, Any], features: np.ndarray) -> np.ndarray:
    """(n, 2) predictions of a stored ridge baseline."""
    scaled = (features - np.asarray(ridge_baseline["scaler_mean"])) / np.asarray(ridge_baseline["scaler_scale"])
    return scaled @ np.asarray(ridge_baseline["coef"]).T + np.asarray(ridge_baseline["intercept"])


def evaluate_test_set(
    real_only_model: nn.Module,
    augmented_model: nn.Module,
    mean_baseline: dict[str, Any],
    ridge_baseline: dict[str, Any],
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    params: dict[str, Any],
    seed: int,
    device: str,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score all four models once, on the same real TEST songs: metrics over the whole set + bootstrap CIs."""
    test_ids = split_ids(song_splits, "test")
    rows = mel_spectrograms.indices_of(test_ids)  # real songs only: synthetic ids cannot be found here
    y_true = targets_for_ids(emotion_labels, test_ids, "test")
    training = TrainingConfig.from_params(params.get("training", {}))
    torch_device = resolve_device(device)
    predictions = {
        "mean_baseline": np.tile([mean_baseline[t] for t in TARGETS], (len(test_ids), 1)),
        "ridge_baseline": predict_ridge_baseline(ridge_baseline, _pooled_features(mel_spectrograms, test_ids)),
    }
    for name, model in (("real_only", real_only_model), ("augmented", augmented_model)):
        with torch_threads(training.cpu_threads):
            predictions[name] = predict_spectrograms(
                model, mel_spectrograms.values, rows, training.eval_batch_size, torch_device, training.mixed_precision
            )
        model.to("cpu")

    n_resamples = int(params.get("evaluation", {}).get("n_resamples", 1000))
    frames, report = [], {}
    for name, y_pred in predictions.items():
        frames.append(
            pd.DataFrame(
                {
                    "song_id": test_ids,
                    "model": name,
                    **{f"{t}_true": y_true[:, i] for i, t in enumerate(TARGETS)},
                    **{f"{t}_pred": np.asarray(y_pred, dtype=np.float64)[:, i] for i, t in enumerate(TARGETS)},
                }
            )
        )
        report[name] = {"n_songs": len(test_ids), **metrics.regression_report(y_true, y_pred, n_resamples, seed)}
        logger.info(
            "TEST %-15s CCC valence %.3f [%.3f, %.3f]  arousal %.3f [%.3f, %.3f]",
            name,
            *(report[name][t]["ccc"][k] for t in TARGETS for k in ("value", "ci_low", "ci_high")),
        )
    return pd.concat(frames, ignore_index=True), report


# ---- helpers: validation of inputs with messages that say what to do -------------------------------


def _synthetic_samples(
    synthetic: SpectrogramSet,
    synthetic_labels: pd.DataFrame,
    mel_spectrograms: SpectrogramSet,
    song_splits: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and targets of the synthetic set, after checking it can be trained on next to real songs."""
    if len(synthetic) != len(synthetic_labels):
        raise ValueError(
            f"synthetic_spectrograms has {len(synthetic)} samples but synthetic_labels has "
            f"{len(synthetic_labels)} rows: spectrogram/label count mismatch; re-run gan_augmentation"
        )
    if synthetic.shape != mel_spectrograms.shape:
        raise ValueError(
            f"synthetic_spectrograms are {synthetic.shape} but mel_spectrograms are {mel_spectrograms.shape}; "
            "re-run gan_augmentation after data_processing"
        )
    real_extraction, synthetic_extraction = (s.meta.get("extraction") for s in (mel_spectrograms, synthetic))
    if real_extraction and synthetic_extraction and real_extraction != synthetic_extraction:
        raise ValueError(
            "synthetic_spectrograms were made with other extraction settings than mel_spectrograms "
            f"({synthetic_extraction} vs {real_extraction}); re-run gan_augmentation after data_processing"
        )
    real_ids = set(mel_spectrograms.ids) | {i for split in SPLITS for i in song_splits.get(split, [])}
    gan_songs = synthetic.meta.get("gan_train_song_ids")
    if gan_songs is None:
        logger.warning("synthetic_spectrograms do not record which songs their GAN was trained on; "
                       "cannot verify that it never saw a VAL/TEST song")
    else:
        outside = sorted(set(gan_songs) - set(split_ids(song_splits, "train")), key=str)
        if outside:
            raise ValueError(
                f"synthetic_spectrograms come from a GAN trained on {len(outside)} song(s) that are not in the current "
                f"TRAIN split (first: {outside[:5]}), e.g. after data_processing was re-run with another seed: "
                "training on them would leak VAL/TEST songs. Re-run gan_augmentation before vit_training"
            )
    leaked = [i for i in synthetic.ids if i in real_ids]
    if leaked:
        raise ValueError(f"synthetic sample ids collide with real song ids (first: {leaked[:5]})")
    missing = {"sample_id", *TARGETS} - set(synthetic_labels.columns)
    if missing:
        raise ValueError(f"synthetic_labels lacks column(s) {sorted(missing)}; re-run gan_augmentation")
    labels = synthetic_labels.set_index("sample_id")[TARGETS]
    absent = [i for i in synthetic.ids if i not in labels.index]
    if absent:
        raise ValueError(f"{len(absent)} synthetic sample(s) have no label (first: {absent[:5]})")
    y = labels.loc[synthetic.ids].to_numpy(dtype=np.float32)
    if not np.isfinite(y).all():
        raise ValueError("synthetic_labels has NaN/inf valence or arousal")
    return np.arange(len(synthetic), dtype=np.int64), y


def _pooled_features(spectrograms: SpectrogramSet, ids: list[Any]) -> np.ndarray:
    """`pooled_mel_statistics` of `ids`, read from the memory map in sorted blocks."""
    return pooled_mel_statistics(spectrograms.values, rows=spectrograms.indices_of(ids))
