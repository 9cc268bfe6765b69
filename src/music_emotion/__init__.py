"""music_emotion: valence/arousal prediction from audio, as a Kedro project."""

__version__ = "0.1.0"
