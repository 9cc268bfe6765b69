"""Synthetic DEAM-layout demo data: mp3s whose valence/arousal are carried by musical cues."""

from music_emotion.pipelines.demo_data.pipeline import create_pipeline

__all__ = ["create_pipeline"]
