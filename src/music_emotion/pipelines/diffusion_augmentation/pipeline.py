"""`diffusion_augmentation`: a conditional flow-matching generator on train songs -> synthetic spectrograms -> the
same quality report as the GAN's (`gan_augmentation.quality`: the same reader judges both generators).

Its samples are drawn for the same conditions as the GAN's (`gan_augmentation.generation`, same seed), so the two
generators' arms differ only by the generator."""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from music_emotion.diffusion.fitting import train_diffusion
from music_emotion.gan.fitting import generate_synthetic_spectrograms
from music_emotion.gan.quality_report import assess_synthetic_quality


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=train_diffusion,
                inputs=["mel_spectrograms", "emotion_labels", "song_splits", "params:diffusion_augmentation",
                        "params:seed", "params:device"],
                outputs=["diffusion_generator", "diffusion_history"],
                name="train_diffusion",
            ),
            Node(
                func=generate_synthetic_spectrograms,
                inputs=["diffusion_generator", "emotion_labels", "song_splits", "params:gan_augmentation.generation",
                        "params:seed", "params:device"],
                outputs=["diffusion_synthetic_spectrograms", "diffusion_synthetic_labels"],
                name="generate_diffusion_spectrograms",
            ),
            Node(
                func=assess_synthetic_quality,
                inputs=["mel_spectrograms", "emotion_labels", "song_splits", "diffusion_synthetic_spectrograms",
                        "diffusion_synthetic_labels", "params:gan_augmentation.quality", "params:seed"],
                outputs="diffusion_quality",
                name="assess_diffusion_quality",
            ),
        ]
    )
