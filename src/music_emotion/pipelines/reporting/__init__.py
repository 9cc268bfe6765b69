"""Figures, tables and one archive of everything a run produced (spectrograms, GAN, ViTs, test metrics)."""

from music_emotion.pipelines.reporting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
