"""Test-wide settings: no progress bars, no telemetry prompts, deterministic torch on CPU."""

import os

os.environ.setdefault("MUSIC_EMOTION_NO_PROGRESS", "1")
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
