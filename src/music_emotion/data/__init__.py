"""The song data a study reads: stored spectrogram sets, the corpus of real and synthetic songs, splits and
folds, windows of a song, and pooled window features."""

TARGETS = ("valence", "arousal")  # the two emotion dimensions, in this order in every array, table and model
