"""Song-level folds x seeds x arms, and the paired comparison of every arm with the reference arm."""

from music_emotion.pipelines.experiment.pipeline import create_pipeline

__all__ = ["create_pipeline"]
