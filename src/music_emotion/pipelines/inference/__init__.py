"""Valence/arousal for your own audio files with a trained ViT."""

from music_emotion.pipelines.inference.pipeline import create_pipeline

__all__ = ["create_pipeline"]
