"""music_emotion: valence/arousal prediction from audio, as a Kedro project.

`from music_emotion import EmotionModel` is the Python way in (`serving/predictor.py`); it is loaded on first use,
so importing the package (as Kedro does for every command) stays light and touches no network.
"""

__version__ = "0.2.0"
__all__ = ["EmotionModel", "SongEmotion"]


def __getattr__(name: str):
    if name in __all__:
        from music_emotion.serving import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module 'music_emotion' has no attribute {name!r}")
