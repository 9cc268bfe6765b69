"""Fitting the conditional flow-matching generator on TRAIN songs.

Sampling is `gan.fitting.generate_synthetic_spectrograms`, shared with the GAN: both generators draw the same
conditions for the same seed (`gan_augmentation.generation`), so their samples differ only by the generator."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.diffusion.training import FlowTrainingConfig, train_flow
from music_emotion.gan.fitting import generator_data
from music_emotion.gan.training import TrainSet
from music_emotion.models.flow import SpectrogramFlow
from music_emotion.models.runtime import resolve_device, torch_threads

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
    setup = generator_data(mel_spectrograms, emotion_labels, song_splits, params, "diffusion_augmentation", seed)
    train, window = setup.train, setup.window
    model = SpectrogramFlow({**setup.config, **params["network"], **params["sampling"]})
    logger.info("Training the flow-matching generator on %d-frame windows of %d TRAIN songs (%d mels, dB range "
                "[%g, %g] from %s): %.2fM parameters, %d steps; sampling: %d Euler steps, guidance %g",
                window, len(train), mel_spectrograms.shape[0], setup.config["db_min"], setup.config["db_max"],
                setup.config["db_range_source"],
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

