"""The conditional flow-matching generator: its training loop and its fitting on TRAIN songs. Its samples go
through the same quality report and the same arms as the GAN's (`gan/quality.py`, `gan/reader.py`)."""
