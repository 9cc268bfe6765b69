"""Fitting the conditional GAN on TRAIN songs and sampling labelled windows from it.

The `gan_augmentation` pipeline and every unit of the `experiment` wire these two steps, so a fold's GAN is
trained and sampled exactly as the single-split one."""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from music_emotion.data import TARGETS
from music_emotion.data.corpus import Corpus, Part
from music_emotion.data.features import window_features
from music_emotion.data.spectrograms import SpectrogramSet, db_range
from music_emotion.data.splits import split_ids, targets_for_ids
from music_emotion.data.windows import frames_for_seconds
from music_emotion.gan.probe import ConditioningProbe
from music_emotion.gan.training import (
    GanTrainingConfig,
    TrainSet,
    sample_train_conditions,
    train_conditional_gan,
)
from music_emotion.models.flow import SpectrogramFlow
from music_emotion.models.gan import SpectrogramDiscriminator, SpectrogramGenerator
from music_emotion.models.runtime import (
    PROBE_CONDITIONS_SEED_OFFSET,
    PROBE_NOISE_SEED_OFFSET,
    autocast,
    resolve_device,
    seed_everything,
    torch_threads,
)
from music_emotion.study.lineage import fingerprint

logger = logging.getLogger(__name__)

CONDITION_SAMPLINGS = ("uniform", "train_labels")


@dataclass(frozen=True)
class GeneratorData:
    """What either generator family trains on: the TRAIN songs, the window in frames, and the dB range mapped to
    [-1, 1] (and where it came from)."""

    train: Part
    window: int
    config: dict[str, Any]  # what the generator keeps in its own config: scaling, extraction, window, provenance


def generator_data(mel_spectrograms: SpectrogramSet, emotion_labels: pd.DataFrame, song_splits: dict[str, Any],
                   params: dict[str, Any], section: str, seed: int) -> GeneratorData:
    """The TRAIN songs and the scaling a generator trains with (`section`: the conf section, for error messages);
    seeds torch, numpy and random with `seed` so the network built next is initialised from it."""
    train = Corpus(mel_spectrograms, emotion_labels, song_splits).train
    extraction = mel_spectrograms.extraction
    window = frames_for_seconds(params["window_seconds"], extraction, f"{section}.window_seconds")
    low, high, source = db_range(mel_spectrograms, train.rows, params["db_range"], f"{section}.db_range")
    seed_everything(int(seed))
    return GeneratorData(train, window, {
        "n_mels": mel_spectrograms.shape[0], "n_frames": window, "condition_dim": len(TARGETS), "db_min": low,
        "db_max": high, "db_range_source": source, "extraction": extraction,
        "window_seconds": float(params["window_seconds"]),
        "trained_on": {"split": "train", "n_songs": len(train), "seed": int(seed), "song_ids": sorted(train.ids)},
    })


def train_gan(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    params: dict[str, Any],
    seed: int,
    device: str,
) -> tuple[SpectrogramGenerator, SpectrogramDiscriminator, pd.DataFrame]:
    """Train the conditional GAN on windows of the TRAIN songs only, so val/test songs never leak into synthetic
    data."""
    config = GanTrainingConfig.from_params(params["training"])
    setup = generator_data(mel_spectrograms, emotion_labels, song_splits, params, "gan_augmentation", seed)
    train, window, n_mels = setup.train, setup.window, mel_spectrograms.shape[0]
    low, high, source = setup.config["db_min"], setup.config["db_max"], setup.config["db_range_source"]
    generator = SpectrogramGenerator({**setup.config, "channels": 1, "latent_dim": int(params["latent_dim"]),
                                      **params["generator"]})
    discriminator = SpectrogramDiscriminator(
        {"n_mels": n_mels, "n_frames": window, "channels": 1, "condition_dim": len(TARGETS), **params["discriminator"]}
    )
    probe = _conditioning_probe(mel_spectrograms, train, window, generator.latent_dim, params["probe"], int(seed))
    resolved = resolve_device(device)
    logger.info(
        "Training the GAN on %d-frame windows of %d TRAIN songs (%d mels, dB range [%g, %g] from %s): G %.2fM, D %.2fM "
        "parameters, %s loss, %d steps",
        window, len(train), n_mels, low, high, source, sum(p.numel() for p in generator.parameters()) / 1e6,
        sum(p.numel() for p in discriminator.parameters()) / 1e6, config.adversarial_loss,
        config.total_steps(len(train)),
    )
    data = TrainSet(mel_spectrograms.values, train.rows, train.targets, train.valid_frames, window)
    with torch_threads(config.cpu_threads):
        return train_conditional_gan(data, generator, discriminator, config, probe, int(seed), resolved)


def _conditioning_probe(spectrograms: SpectrogramSet, train, window: int, latent_dim: int,
                        params: dict[str, Any], seed: int) -> ConditioningProbe:
    """The fixed batch and the real-TRAIN regressor that score conditioning while the GAN trains."""
    features, positions = window_features(spectrograms.values, train.rows, train.valid_frames, window,
                                          max(1, window // 2))
    rng = np.random.default_rng(seed + PROBE_CONDITIONS_SEED_OFFSET)
    conditions = sample_train_conditions(train.targets, int(params["n_samples"]), float(params["label_jitter"]), rng)
    noise = torch.randn(len(conditions), latent_dim,
                        generator=torch.Generator().manual_seed(seed + PROBE_NOISE_SEED_OFFSET))
    return ConditioningProbe(features, train.targets[positions], conditions, noise, float(params["ridge_alpha"]),
                             float(params["frechet_ridge"]), int(params["batch_size"]), seed, str(params["select_on"]),
                             None if params["max_frechet_ratio"] is None else float(params["max_frechet_ratio"]))


def sample_conditions(
    emotion_labels: pd.DataFrame, song_splits: dict[str, Any], generation: dict[str, Any], seed: int
) -> np.ndarray:
    """(n, 2) conditions: resampled TRAIN labels + jitter (`train_labels`), or `uniform` in [-1, 1]^2 (the Kaggle
    reference recipe)."""
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
    generator: SpectrogramGenerator | SpectrogramFlow,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    generation: dict[str, Any],
    seed: int,
    device: str,
) -> tuple[SpectrogramSet, pd.DataFrame]:
    """Labelled synthetic windows in dB from either generator family, deterministic per seed, streamed batch by
    batch into a memory-mapped array on disk (3,200 x 128 x 431 float32 never sits in RAM; the catalog then copies
    it chunk-wise)."""
    conditions = sample_conditions(emotion_labels, song_splits, generation, seed)
    n = len(conditions)
    resolved = resolve_device(device)
    scratch = tempfile.NamedTemporaryFile(prefix="synthetic_", suffix=".npy", delete=False)  # noqa: SIM115
    scratch.close()
    out = np.lib.format.open_memmap(scratch.name, mode="w+", dtype=np.float32,
                                    shape=(n, generator.height, generator.width))
    generator.to(resolved)
    with autocast(resolved, bool(generation["mixed_precision"])):
        generator.sample_into(conditions, out, int(seed), int(generation["batch_size"]))
    generator.to("cpu")
    out.flush()
    ids = [f"{generator.SOURCE}-{i:06d}" for i in range(n)]
    meta = {
        "extraction": generator.config.get("extraction", {}),
        "source": generator.SOURCE,
        "condition_sampling": generation["condition_sampling"],
        "seed": int(seed),
        "db_range": [generator.config["db_min"], generator.config["db_max"]],
        "generator_step": generator.config.get("selected_step"),
        # provenance: training refuses synthetic samples whose GAN saw a song outside its train split
        "gan_train_song_ids": generator.config.get("trained_on", {}).get("song_ids"),
        "lineage": {"generator": fingerprint(generator)},
    }
    labels = pd.DataFrame({"sample_id": ids, "valence": conditions[:, 0], "arousal": conditions[:, 1],
                           "condition_sampling": generation["condition_sampling"]})
    logger.info("Generated %d synthetic windows with the %s (%s conditions)", n, generator.SOURCE,
                generation["condition_sampling"])
    values = np.load(scratch.name, mmap_mode="r")
    os.unlink(scratch.name)  # the mapping keeps the data until it is garbage-collected; no file is left behind
    return SpectrogramSet(ids=ids, values=values, meta=meta), labels
