"""Nodes of the `gan_augmentation` pipeline: train a conditional GAN on windows of the TRAIN songs only,
generate labelled synthetic windows, and measure whether they look real and carry their labels."""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

import numpy as np
import pandas as pd
import torch

from music_emotion.corpus import Corpus
from music_emotion.features import pooled_mel_statistics, window_features
from music_emotion.lineage import fingerprint
from music_emotion.metrics import TARGETS, ccc
from music_emotion.models.gan import SpectrogramDiscriminator, SpectrogramGenerator
from music_emotion.pipelines.gan_augmentation.probe import ConditioningProbe
from music_emotion.pipelines.gan_augmentation.quality import (
    fit_ridge,
    frechet_distance,
    mean_pairwise_distance,
)
from music_emotion.pipelines.gan_augmentation.training import (
    GanTrainingConfig,
    TrainSet,
    sample_train_conditions,
    train_conditional_gan,
)
from music_emotion.runtime import autocast, resolve_device, seed_everything, torch_threads
from music_emotion.spectrograms import SpectrogramSet, db_range
from music_emotion.splits import split_ids, targets_for_ids
from music_emotion.windows import average_by_song, frames_for_seconds

logger = logging.getLogger(__name__)

CONDITION_SAMPLINGS = ("uniform", "train_labels")
SYNTHETIC_ID_FORMAT = "gan-{:06d}"


def train_gan(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    params: dict[str, Any],
    seed: int,
    device: str,
) -> tuple[SpectrogramGenerator, SpectrogramDiscriminator, pd.DataFrame]:
    """Train the conditional GAN on windows of the TRAIN songs only, so val/test songs never leak into synthetic data."""
    config = GanTrainingConfig.from_params(params["training"])
    train = Corpus(mel_spectrograms, emotion_labels, song_splits).train
    extraction = mel_spectrograms.meta.get("extraction") or {}
    window = frames_for_seconds(params["window_seconds"], extraction, "gan_augmentation.window_seconds")
    n_mels = mel_spectrograms.shape[0]
    low, high, source = db_range(mel_spectrograms, train.rows, params["db_range"], "gan_augmentation.db_range")
    seed_everything(int(seed))
    generator = SpectrogramGenerator({
        "n_mels": n_mels, "n_frames": window, "channels": 1, "latent_dim": int(params["latent_dim"]),
        "condition_dim": len(TARGETS), **params["generator"], "db_min": low, "db_max": high,
        "db_range_source": source, "extraction": extraction, "window_seconds": float(params["window_seconds"]),
        "trained_on": {"split": "train", "n_songs": len(train), "seed": int(seed), "song_ids": sorted(train.ids)},
    })
    discriminator = SpectrogramDiscriminator(
        {"n_mels": n_mels, "n_frames": window, "channels": 1, "condition_dim": len(TARGETS), **params["discriminator"]}
    )
    probe = _conditioning_probe(mel_spectrograms, train, window, generator.latent_dim, params["probe"], int(seed))
    resolved = resolve_device(device)
    logger.info(
        "Training the GAN on %d-frame windows of %d TRAIN songs (%d mels, dB range [%g, %g] from %s): G %.2fM, D %.2fM "
        "parameters, %s loss, %d steps",
        window, len(train), n_mels, low, high, source, sum(p.numel() for p in generator.parameters()) / 1e6,
        sum(p.numel() for p in discriminator.parameters()) / 1e6, config.adversarial_loss, config.total_steps(len(train)),
    )
    data = TrainSet(mel_spectrograms.values, train.rows, train.targets, train.valid_frames, window)
    with torch_threads(config.cpu_threads):
        return train_conditional_gan(data, generator, discriminator, config, probe, int(seed), resolved)


def _conditioning_probe(spectrograms: SpectrogramSet, train, window: int, latent_dim: int,
                        params: dict[str, Any], seed: int) -> ConditioningProbe:
    """The fixed batch and the real-TRAIN regressor that score conditioning while the GAN trains."""
    features, positions = window_features(spectrograms.values, train.rows, train.valid_frames, window, max(1, window // 2))
    rng = np.random.default_rng(seed + 2)
    conditions = sample_train_conditions(train.targets, int(params["n_samples"]), float(params["label_jitter"]), rng)
    noise = torch.randn(len(conditions), latent_dim, generator=torch.Generator().manual_seed(seed + 3))
    return ConditioningProbe(features, train.targets[positions], conditions, noise, float(params["ridge_alpha"]),
                             float(params["frechet_ridge"]), int(params["batch_size"]), seed, str(params["select_on"]),
                             None if params["max_frechet_ratio"] is None else float(params["max_frechet_ratio"]))


def sample_conditions(
    emotion_labels: pd.DataFrame, song_splits: dict[str, Any], generation: dict[str, Any], seed: int
) -> np.ndarray:
    """(n, 2) conditions: resampled TRAIN labels + jitter (`train_labels`), or `uniform` in [-1, 1]^2 (the notebook)."""
    n = int(generation["n_synthetic"])
    if n < 1:
        raise ValueError(f"gan_augmentation.generation.n_synthetic must be >= 1, got {n}")
    sampling = generation["condition_sampling"]
    rng = np.random.default_rng(seed)
    if sampling == "uniform":
        return rng.uniform(-1.0, 1.0, size=(n, len(TARGETS))).astype(np.float32)
    if sampling == "train_labels":
        train_targets = targets_for_ids(emotion_labels, split_ids(song_splits, "train"), "train")
        return sample_train_conditions(train_targets, n, float(generation["label_jitter"]), rng)
    raise ValueError(
        f"gan_augmentation.generation.condition_sampling must be one of {CONDITION_SAMPLINGS}, got {sampling!r}"
    )


def generate_synthetic_spectrograms(
    generator: SpectrogramGenerator,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    generation: dict[str, Any],
    seed: int,
    device: str,
) -> tuple[SpectrogramSet, pd.DataFrame]:
    """Labelled synthetic windows in dB, deterministic per seed, streamed batch by batch into a memory-mapped
    array on disk (3,200 x 128 x 431 float32 never sits in RAM; the catalog then copies it chunk-wise)."""
    conditions = sample_conditions(emotion_labels, song_splits, generation, seed)
    n = len(conditions)
    noise = torch.randn(n, generator.latent_dim, generator=torch.Generator().manual_seed(int(seed)))
    resolved = resolve_device(device)
    scratch = tempfile.NamedTemporaryFile(prefix="synthetic_", suffix=".npy", delete=False)  # noqa: SIM115
    scratch.close()
    out = np.lib.format.open_memmap(scratch.name, mode="w+", dtype=np.float32, shape=(n, generator.height, generator.width))
    generator.to(resolved)
    with autocast(resolved, bool(generation["mixed_precision"])):
        generator.generate(conditions, noise=noise, batch_size=int(generation["batch_size"]), out=out)
    generator.to("cpu")
    out.flush()
    ids = [SYNTHETIC_ID_FORMAT.format(i) for i in range(n)]
    meta = {
        "extraction": generator.config.get("extraction", {}),
        "source": "gan",
        "condition_sampling": generation["condition_sampling"],
        "seed": int(seed),
        "db_range": [generator.config["db_min"], generator.config["db_max"]],
        "generator_step": generator.config.get("selected_step"),
        # provenance: vit_training refuses synthetic samples whose GAN saw a song outside its train split
        "gan_train_song_ids": generator.config.get("trained_on", {}).get("song_ids"),
        "lineage": {"generator": fingerprint(generator)},
    }
    labels = pd.DataFrame({"sample_id": ids, "valence": conditions[:, 0], "arousal": conditions[:, 1],
                           "condition_sampling": generation["condition_sampling"]})
    logger.info("Generated %d synthetic windows (%s conditions)", n, generation["condition_sampling"])
    values = np.load(scratch.name, mmap_mode="r")
    os.unlink(scratch.name)  # the mapping keeps the data until it is garbage-collected; no file is left behind
    return SpectrogramSet(ids=ids, values=values, meta=meta), labels


def assess_gan_quality(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    synthetic_spectrograms: SpectrogramSet,
    synthetic_labels: pd.DataFrame,
    quality: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Fréchet distance with a real-vs-real floor, conditioning fidelity both ways (TRTS, TSTR), a collapse guard.

    Real songs are cut into windows of the GAN's length (half a window apart), so real and synthetic are
    compared like for like; scores on real songs average their windows' predictions per song.
    """
    rng = np.random.default_rng(seed)
    corpus = Corpus(mel_spectrograms, emotion_labels, song_splits)
    train, val = corpus.train, corpus.part("val", allow_empty=True)
    window = synthetic_spectrograms.shape[1]
    stride = max(1, window // 2)
    real_train, train_pos = window_features(mel_spectrograms.values, train.rows, train.valid_frames, window, stride)
    real_val, val_pos = window_features(mel_spectrograms.values, val.rows, val.valid_frames, window, stride)
    synthetic = pooled_mel_statistics(synthetic_spectrograms.values)
    labels = synthetic_labels.set_index("sample_id").loc[synthetic_spectrograms.ids]
    y_synthetic = labels[list(TARGETS)].to_numpy(dtype=np.float64)
    y_train = train.targets[train_pos]

    ridge, alpha = float(quality["frechet_ridge"]), float(quality["ridge_alpha"])
    has_val = len(val) >= 2
    fd_synthetic = frechet_distance(real_train, synthetic, ridge)
    matched_n = len(real_val) if has_val else len(synthetic)
    matched = synthetic[rng.choice(len(synthetic), size=min(matched_n, len(synthetic)), replace=False)]
    fd_matched = frechet_distance(real_train, matched, ridge) if len(matched) >= 2 else None
    fd_floor = frechet_distance(real_train, real_val, ridge) if has_val else None

    real_model = fit_ridge(real_train, y_train, alpha)
    synthetic_model = fit_ridge(synthetic, y_synthetic, alpha)
    if has_val:  # TSTR / reference on real VAL songs (never used to train the GAN), per song
        held_out, held_out_pos, held_out_y, held_out_name = real_val, val_pos, val.targets, "val"
    else:
        held_out, held_out_pos, held_out_y, held_out_name = real_train, train_pos, train.targets, "train"

    def song_ccc(model) -> dict[str, float]:
        songs = average_by_song(model.predict(held_out), held_out_pos, len(held_out_y))
        return {t: ccc(held_out_y[:, i], songs[:, i]) for i, t in enumerate(TARGETS)}

    trts_pred = real_model.predict(synthetic)
    max_pairs = int(quality["pairwise_max_samples"])
    pair_synthetic = mean_pairwise_distance(synthetic, max_pairs, rng)
    pair_real = mean_pairwise_distance(real_train, max_pairs, rng)
    ratio = pair_synthetic / pair_real if pair_real > 0 else None
    threshold = float(quality["collapse_ratio_threshold"])
    n_mels = mel_spectrograms.shape[0]
    tstr = song_ccc(synthetic_model)
    report = {
        "feature": {
            "name": "pooled_mel_statistics of windows",
            "description": f"per-mel-band mean and standard deviation over time of {window}-frame dB windows "
                           f"(real songs: every window, {stride} frames apart)",
            "dim": 2 * n_mels,
        },
        "n_real_train": len(train), "n_real_val": len(val),
        "n_real_train_windows": len(real_train), "n_real_val_windows": len(real_val),
        "n_synthetic": len(synthetic),
        "condition_sampling": str(synthetic_spectrograms.meta.get("condition_sampling", "unknown")),
        "generator_step": synthetic_spectrograms.meta.get("generator_step"),
        "lineage": {"synthetic_spectrograms": fingerprint(synthetic_spectrograms),
                    "generator": synthetic_spectrograms.meta.get("lineage", {}).get("generator")},
        "frechet_distance": {
            "real_train_vs_synthetic": fd_synthetic,
            "real_train_vs_synthetic_subsample_n_val": fd_matched,
            "real_train_vs_real_val_floor": fd_floor,
            "ratio_to_floor": (fd_matched / fd_floor) if fd_floor and fd_matched is not None else None,
            "covariance_ridge": ridge,
        },
        "conditioning_fidelity_ccc": {
            "train_real_test_synthetic": {t: ccc(y_synthetic[:, i], trts_pred[:, i]) for i, t in enumerate(TARGETS)},
            "train_synthetic_test_real": tstr,
            "train_real_test_real_reference": song_ccc(real_model),
            "real_test_split": held_out_name,
            "ridge_alpha": alpha,
        },
        "tstr_ccc_val": tstr if has_val else None,
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
        "GAN quality: conditioning CCC V %.3f A %.3f; TSTR on %s songs V %.3f A %.3f; Fréchet ratio %s",
        *report["conditioning_fidelity_ccc"]["train_real_test_synthetic"].values(), held_out_name, *tstr.values(),
        f"{report['frechet_distance']['ratio_to_floor']:.2f}" if report["frechet_distance"]["ratio_to_floor"] else "n/a",
    )
    return json_safe(report)


def json_safe(value: Any) -> Any:
    """Floats that are NaN/inf become None so the JSON stays valid."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
