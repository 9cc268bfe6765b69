"""`gan_augmentation`: conditional GAN on train songs -> synthetic spectrograms -> quality figures."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from music_emotion.gan.fitting import generate_synthetic_spectrograms, train_gan
from music_emotion.gan.quality_report import assess_synthetic_quality


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=train_gan,
                inputs=["mel_spectrograms", "emotion_labels", "song_splits", "params:gan_augmentation",
                        "params:seed", "params:device"],
                outputs=["generator", "discriminator", "gan_history"],
                name="train_gan",
            ),
            Node(
                func=generate_synthetic_spectrograms,
                inputs=["generator", "emotion_labels", "song_splits", "params:gan_augmentation.generation",
                        "params:seed", "params:device"],
                outputs=["synthetic_spectrograms", "synthetic_labels"],
                name="generate_synthetic_spectrograms",
            ),
            Node(
                func=assess_synthetic_quality,
                inputs=["mel_spectrograms", "emotion_labels", "song_splits", "synthetic_spectrograms",
                        "synthetic_labels", "params:gan_augmentation.quality", "params:seed"],
                outputs="gan_quality",
                name="assess_gan_quality",
            ),
        ]
    )
