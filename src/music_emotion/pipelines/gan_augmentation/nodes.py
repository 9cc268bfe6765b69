"""Nodes of the `gan_augmentation` pipeline: train a conditional GAN on the train songs only,
generate labelled synthetic spectrograms, and measure how good they are."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import torch

from music_emotion.features import pooled_mel_statistics
from music_emotion.metrics import TARGETS
from music_emotion.models.gan import SpectrogramDiscriminator, SpectrogramGenerator
from music_emotion.pipelines.gan_augmentation.quality import (
    frechet_distance,
    mean_pairwise_distance,
    ridge_ccc,
)
from music_emotion.pipelines.gan_augmentation.training import TrainSet, train_conditional_gan
from music_emotion.runtime import autocast, resolve_device, seed_everything, torch_threads
from music_emotion.spectrograms import SpectrogramSet, db_range
from music_emotion.splits import split_ids, targets_for_ids

logger = logging.getLogger(__name__)

CONDITION_SAMPLINGS = ("uniform", "train_labels")
SYNTHETIC_ID_FORMAT = "gan-{:06d}"


# ---- helpers ---------------------------------------------------------------------------------
def _rows_of(spectrograms: SpectrogramSet, ids: list, name: str) -> np.ndarray:
    try:
        return spectrograms.indices_of(ids)
    except KeyError as exc:
        raise ValueError(f"{name}: {exc.args[0]}") from None


# ---- nodes -----------------------------------------------------------------------------------
def train_gan(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    params: dict[str, Any],
    seed: int,
    device: str,
) -> tuple[SpectrogramGenerator, SpectrogramDiscriminator, pd.DataFrame]:
    """Train the conditional GAN on the train split only, so val/test songs never leak into synthetic data."""
    training = params["training"]
    train_ids = split_ids(song_splits, "train")
    batch_size = int(training["batch_size"])
    if len(train_ids) < batch_size:
        raise ValueError(
            f"song_splits['train'] has {len(train_ids)} songs, fewer than one batch "
            f"(gan_augmentation.training.batch_size = {batch_size}); lower the batch size or add data"
        )
    rows = _rows_of(mel_spectrograms, train_ids, "mel_spectrograms")
    data = TrainSet(mel_spectrograms.values, rows, targets_for_ids(emotion_labels, train_ids, "train"), train_ids)
    n_mels, n_frames = mel_spectrograms.shape
    low, high, source = db_range(mel_spectrograms, rows, params.get("db_range"), "gan_augmentation.db_range")

    torch_generator = seed_everything(int(seed))
    generator = SpectrogramGenerator(
        {
            "n_mels": n_mels,
            "n_frames": n_frames,
            "channels": 1,
            "latent_dim": int(params["latent_dim"]),
            "condition_dim": len(TARGETS),
            **params["generator"],
            "db_min": low,
            "db_max": high,
            "db_range_source": source,
            "extraction": mel_spectrograms.meta.get("extraction", {}),
            "trained_on": {"split": "train", "n_songs": len(train_ids), "seed": int(seed),
                           "song_ids": sorted(train_ids)},
        }
    )
    discriminator = SpectrogramDiscriminator(
        {"n_mels": n_mels, "n_frames": n_frames, "channels": 1, "condition_dim": len(TARGETS), **params["discriminator"]}
    )
    resolved = resolve_device(device)
    logger.info(
        "Training the GAN on %d train songs (%d x %d, dB range [%g, %g] from %s): G %.2fM, D %.2fM parameters",
        len(data), n_mels, n_frames, low, high, source,
        sum(p.numel() for p in generator.parameters()) / 1e6,
        sum(p.numel() for p in discriminator.parameters()) / 1e6,
    )
    with torch_threads(training.get("cpu_threads")):
        history = train_conditional_gan(data, generator, discriminator, training, int(seed), torch_generator, resolved)
    return generator, discriminator, history


def sample_conditions(
    emotion_labels: pd.DataFrame, song_splits: dict[str, Any], generation: dict[str, Any], seed: int
) -> np.ndarray:
    """(n, 2) conditions: `uniform` in [-1, 1]^2 (the seed's choice) or resampled train labels + jitter."""
    n = int(generation["n_synthetic"])
    if n < 1:
        raise ValueError(f"gan_augmentation.generation.n_synthetic must be >= 1, got {n}")
    sampling = generation.get("condition_sampling", "uniform")
    rng = np.random.default_rng(seed)
    if sampling == "uniform":
        return rng.uniform(-1.0, 1.0, size=(n, len(TARGETS))).astype(np.float32)
    if sampling == "train_labels":
        train = targets_for_ids(emotion_labels, split_ids(song_splits, "train"), "train")
        picked = train[rng.integers(0, len(train), size=n)]
        jitter = float(generation.get("label_jitter", 0.0))
        return np.clip(picked + rng.normal(0.0, jitter, size=picked.shape), -1.0, 1.0).astype(np.float32)
    raise ValueError(
        f"gan_augmentation.generation.condition_sampling must be one of {CONDITION_SAMPLINGS}, got {sampling!r}"
    )


def generate_synthetic_spectrograms(
    generator: SpectrogramGenerator,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    params: dict[str, Any],
    seed: int,
    device: str,
) -> tuple[SpectrogramSet, pd.DataFrame]:
    """Labelled synthetic spectrograms in dB, same format as `mel_spectrograms`; deterministic per seed."""
    generation = params["generation"]
    sampling = generation.get("condition_sampling", "uniform")
    conditions = sample_conditions(emotion_labels, song_splits, generation, seed)
    n = len(conditions)
    noise = torch.randn(n, generator.latent_dim, generator=torch.Generator().manual_seed(int(seed)))
    resolved = resolve_device(device)
    out = np.empty((n, generator.height, generator.width), dtype=np.float32)
    generator.to(resolved)
    with autocast(resolved, bool(params["training"].get("mixed_precision", True))):
        generator.generate(conditions, noise=noise, batch_size=int(generation.get("batch_size", 64)), out=out)
    generator.to("cpu")
    ids = [SYNTHETIC_ID_FORMAT.format(i) for i in range(n)]
    meta = {
        "extraction": generator.config.get("extraction", {}),
        "source": "gan",
        "condition_sampling": sampling,
        "seed": int(seed),
        "db_range": [generator.config["db_min"], generator.config["db_max"]],
        # provenance: vit_training refuses synthetic samples whose GAN saw a song outside its train split
        "gan_train_song_ids": generator.config.get("trained_on", {}).get("song_ids"),
    }
    labels = pd.DataFrame(
        {"sample_id": ids, "valence": conditions[:, 0], "arousal": conditions[:, 1], "condition_sampling": sampling}
    )
    logger.info("Generated %d synthetic spectrograms (%s conditions)", n, sampling)
    return SpectrogramSet(ids=ids, values=out, meta=meta), labels


def assess_gan_quality(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    synthetic_spectrograms: SpectrogramSet,
    synthetic_labels: pd.DataFrame,
    params: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Fréchet distance with a real-vs-real floor, conditioning fidelity (CCC) and a mode-collapse guard."""
    quality = params["quality"]
    rng = np.random.default_rng(seed)
    train_ids, val_ids = split_ids(song_splits, "train"), split_ids(song_splits, "val", allow_empty=True)
    real_all = pooled_mel_statistics(mel_spectrograms.values)
    real_train = real_all[_rows_of(mel_spectrograms, train_ids, "mel_spectrograms")]
    real_val = real_all[_rows_of(mel_spectrograms, val_ids, "mel_spectrograms")] if val_ids else real_all[:0]
    y_train = targets_for_ids(emotion_labels, train_ids, "train")
    y_val = targets_for_ids(emotion_labels, val_ids, "val") if val_ids else np.empty((0, 2), np.float32)
    synthetic = pooled_mel_statistics(synthetic_spectrograms.values)
    labels = synthetic_labels.set_index("sample_id").loc[synthetic_spectrograms.ids]
    y_synthetic = labels[list(TARGETS)].to_numpy(dtype=np.float64)

    ridge = float(quality.get("frechet_ridge", 1e-6))
    alpha = float(quality.get("ridge_alpha", 1.0))
    has_val = len(real_val) >= 2
    fd_synthetic = frechet_distance(real_train, synthetic, ridge)
    matched_n = len(real_val) if has_val else len(synthetic)
    matched = synthetic[rng.choice(len(synthetic), size=min(matched_n, len(synthetic)), replace=False)]
    fd_matched = frechet_distance(real_train, matched, ridge) if len(matched) >= 2 else None
    fd_floor = frechet_distance(real_train, real_val, ridge) if has_val else None

    # Reverse direction is tested on real val songs (never used to train the GAN); train songs if no val.
    real_test_x, real_test_y, real_test_name = (real_val, y_val, "val") if has_val else (real_train, y_train, "train")
    max_pairs = int(quality.get("pairwise_max_samples", 500))
    pair_synthetic = mean_pairwise_distance(synthetic, max_pairs, rng)
    pair_real = mean_pairwise_distance(real_train, max_pairs, rng)
    ratio = pair_synthetic / pair_real if pair_real > 0 else None
    threshold = float(quality.get("collapse_ratio_threshold", 0.5))

    n_mels = mel_spectrograms.shape[0]
    report = {
        "feature": {
            "name": "pooled_mel_statistics",
            "description": "per-mel-band mean and standard deviation over time of the dB spectrogram",
            "dim": 2 * n_mels,
        },
        "n_real_train": len(real_train),
        "n_real_val": len(real_val),
        "n_synthetic": len(synthetic),
        "condition_sampling": str(synthetic_spectrograms.meta.get("condition_sampling", "unknown")),
        "frechet_distance": {
            "real_train_vs_synthetic": fd_synthetic,
            "real_train_vs_synthetic_subsample_n_val": fd_matched,
            "real_train_vs_real_val_floor": fd_floor,
            "ratio_to_floor": (fd_matched / fd_floor) if fd_floor and fd_matched is not None else None,
            "covariance_ridge": ridge,
        },
        "conditioning_fidelity_ccc": {
            "train_real_test_synthetic": ridge_ccc(real_train, y_train, synthetic, y_synthetic, alpha),
            "train_synthetic_test_real": ridge_ccc(synthetic, y_synthetic, real_test_x, real_test_y, alpha),
            "train_real_test_real_reference": ridge_ccc(real_train, y_train, real_test_x, real_test_y, alpha),
            "real_test_split": real_test_name,
            "ridge_alpha": alpha,
        },
        "mode_collapse": {
            "mean_pairwise_distance_synthetic": pair_synthetic,
            "mean_pairwise_distance_real_train": pair_real,
            "ratio": ratio,
            "threshold": threshold,
            "possible_mode_collapse": bool(ratio is not None and ratio < threshold),
            "max_samples": max_pairs,
        },
        "level_db": {
            "real_train_mean": float(real_train[:, :n_mels].mean()),
            "synthetic_mean": float(synthetic[:, :n_mels].mean()),
            "real_train_mean_band_std": float(real_train[:, n_mels:].mean()),
            "synthetic_mean_band_std": float(synthetic[:, n_mels:].mean()),
        },
    }
    if report["mode_collapse"]["possible_mode_collapse"]:
        logger.warning("Synthetic spectrograms are much less diverse than real ones (ratio %.2f): mode collapse?", ratio)
    logger.info(
        "GAN quality: FD(train, synthetic) %.1f vs floor FD(train, val) %s",
        fd_synthetic, f"{fd_floor:.1f}" if fd_floor is not None else "n/a",
    )
    return _json_safe(report)


def _json_safe(value: Any) -> Any:
    """Floats that are NaN/inf become None so the JSON stays valid."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
