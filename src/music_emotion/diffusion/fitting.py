"""Fitting the conditional flow-matching generator on TRAIN songs.

Sampling is `gan.fitting.generate_synthetic_spectrograms`, shared with the GAN: both generators draw the same
conditions for the same seed (`gan_augmentation.generation`), so their samples differ only by the generator."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from music_emotion.data import TARGETS
from music_emotion.data.corpus import Corpus
from music_emotion.data.spectrograms import SpectrogramSet, db_range
from music_emotion.data.windows import frames_for_seconds
from music_emotion.diffusion.training import FlowTrainingConfig, train_flow
from music_emotion.gan.training import TrainSet
from music_emotion.models.flow import SpectrogramFlow
from music_emotion.models.runtime import resolve_device, seed_everything, torch_threads

logger = logging.getLogger(__name__)


def train_diffusion(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    params: dict[str, Any],
    seed: int,
    device: str,
) -> tuple[SpectrogramFlow, pd.DataFrame]:
    """Train the flow-matching generator on windows of the TRAIN songs only, so val/test songs never leak into
    synthetic data."""
    config = FlowTrainingConfig.from_params(params["training"])
    check_sampling(params["sampling"])
    train = Corpus(mel_spectrograms, emotion_labels, song_splits).train
    extraction = mel_spectrograms.meta.get("extraction") or {}
    window = frames_for_seconds(params["window_seconds"], extraction, "diffusion_augmentation.window_seconds")
    low, high, source = db_range(mel_spectrograms, train.rows, params["db_range"], "diffusion_augmentation.db_range")
    seed_everything(int(seed))
    model = SpectrogramFlow({
        "n_mels": mel_spectrograms.shape[0], "n_frames": window, "condition_dim": len(TARGETS),
        **params["network"], **params["sampling"], "db_min": low, "db_max": high, "db_range_source": source,
        "extraction": extraction, "window_seconds": float(params["window_seconds"]),
        "trained_on": {"split": "train", "n_songs": len(train), "seed": int(seed), "song_ids": sorted(train.ids)},
    })
    logger.info("Training the flow-matching generator on %d-frame windows of %d TRAIN songs (%d mels, dB range "
                "[%g, %g] from %s): %.2fM parameters, %d steps; sampling: %d Euler steps, guidance %g",
                window, len(train), mel_spectrograms.shape[0], low, high, source,
                sum(p.numel() for p in model.parameters()) / 1e6, config.steps, params["sampling"]["sampling_steps"],
                params["sampling"]["guidance"])
    data = TrainSet(mel_spectrograms.values, train.rows, train.targets, train.valid_frames, window)
    with torch_threads(config.cpu_threads):
        return train_flow(data, model, config, int(seed), resolve_device(device))


def check_sampling(sampling: dict[str, Any]) -> None:
    """`diffusion_augmentation.sampling`: Euler steps >= 1, guidance >= 0."""
    if int(sampling["sampling_steps"]) < 1 or float(sampling["guidance"]) < 0:
        raise ValueError("diffusion_augmentation.sampling: sampling_steps must be >= 1 and guidance >= 0 (0 = no "
                         f"classifier-free guidance), got {sampling}")

