"""`training`: ViT regression on spectrograms (real_only / augmented), baselines, one honest test."""

from music_emotion.pipelines.training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
