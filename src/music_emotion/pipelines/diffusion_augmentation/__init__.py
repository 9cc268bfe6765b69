"""`diffusion_augmentation`: the conditional flow-matching generator, its samples and their quality report."""

from music_emotion.pipelines.diffusion_augmentation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
