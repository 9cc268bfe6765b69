"""Conditional GAN data augmentation: train on train songs, generate, assess."""

from music_emotion.pipelines.gan_augmentation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
