"""DEAM -> validated labels, versioned log-mel spectrograms, an extraction report and a song split."""

from music_emotion.pipelines.data_processing.pipeline import create_pipeline

__all__ = ["create_pipeline"]
