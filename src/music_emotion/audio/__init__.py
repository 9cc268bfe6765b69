"""Audio in: decoding any file to mono samples, log-mel and Kaldi filter banks, per-file tasks and the engine
that runs them in one process or on Dask. No torch and nothing of Kedro: this is the part a listener's
machine needs to read a song."""
