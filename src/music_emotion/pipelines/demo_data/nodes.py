"""Nodes of `demo_data`: a small synthetic dataset in DEAM's exact layout and CSV format.

Both annotation files keep DEAM's quirks (spaces after commas; `valence_ max_mean` in the second
file), and a handful of deliberately messy cases exercise the extraction report.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd

from music_emotion.pipelines.demo_data.synthesis import demo_song

# the full songs' lengths have their own stream, so the lengths setting never shifts the seed's other draws
FULL_SONG_LENGTH_SEED_OFFSET = 7919
FIRST_FILE_COLUMNS = ["song_id", "valence_mean", "valence_std", "arousal_mean", "arousal_std"]
SECOND_FILE_COLUMNS = [
    "song_id", "valence_mean", "valence_std", "valence_ max_mean", "valence_max_std", "valence_min_mean",
    "valence_min_std", "arousal_mean", "arousal_std", "arousal_max_mean", "arousal_max_std", "arousal_min_mean",
    "arousal_min_std",
]


def _with_deam_spacing(frame: pd.DataFrame) -> pd.DataFrame:
    """DEAM headers read `song_id, valence_mean, ...`: a space after every comma."""
    return frame.rename(columns={c: (" " + c if i else c) for i, c in enumerate(frame.columns)})


def _broken_mp3(content: bytes):
    return lambda: (content, 0)


class GeneratedCorpus(dict):
    """`{file name: lazy audio}` plus the fingerprint of the settings that made it, so the audio folder can
    resume an interrupted write (files of the same fingerprint are kept) and refuse a folder of real audio."""

    def __init__(self, files: dict[str, Any], fingerprint: str) -> None:
        super().__init__(files)
        self.fingerprint = fingerprint


def synthesise_demo_dataset(params: dict[str, Any], seed: int) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Songs with known valence/arousal -> ({file name: lazy audio}, annotations 1-2000, annotations 2000-2058).

    `full_song_seconds` is one length or a [shortest, longest] range (DEAM's 2015 songs run 2-6 min), drawn per
    song from a generator of its own (never `rng`), so the seed's other draws (ids, labels, spreads) do not
    depend on the setting and the demo's scalar setting gives the same corpus for a seed."""
    rng = np.random.default_rng(seed)
    n_excerpts, n_full = int(params["n_excerpts"]), int(params["n_full_songs"])
    excerpt_ids = np.sort(rng.choice(np.arange(2, 2001), size=n_excerpts, replace=False))
    full_ids = np.arange(2001, 2001 + n_full)
    ids = np.concatenate([excerpt_ids, full_ids])
    valence = rng.uniform(-0.95, 0.95, size=len(ids))
    arousal = rng.uniform(-0.95, 0.95, size=len(ids))
    rater_noise = float(params["rater_noise"])
    valence_mean = np.clip(np.round(5 + 4 * valence + rng.normal(0, rater_noise, len(ids)), 2), 1, 9)
    arousal_mean = np.clip(np.round(5 + 4 * arousal + rng.normal(0, rater_noise, len(ids)), 2), 1, 9)
    valence_std = np.round(rng.uniform(0.5, 2.0, len(ids)), 2)
    arousal_std = np.round(rng.uniform(0.5, 2.0, len(ids)), 2)

    audio: dict[str, Any] = {}
    messy, cues = params["messy"], {k: float(v) for k, v in params["cues"].items()}
    low_rate_every = int(params["low_rate_every"])
    full_seconds = _full_song_lengths(params["full_song_seconds"], n_full, seed)
    for k, song_id in enumerate(ids):
        seconds = full_seconds[k - n_excerpts] if song_id > 2000 else params["excerpt_seconds"]
        rate, channels = int(params["sample_rate"]), 2
        if low_rate_every and k % low_rate_every == 0:  # some mp3s at 22.05 kHz mono, as users meet them
            rate, channels = 22050, 1
        audio[f"{song_id}.mp3"] = demo_song(int(song_id), float(valence[k]), float(arousal[k]), float(seconds),
                                            rate, channels, seed, cues)

    # Deliberately messy cases, each reported by data_processing rather than crashing it.
    if messy.get("short_clip"):
        song_id = int(excerpt_ids[0])
        audio[f"{song_id}.mp3"] = demo_song(song_id, float(valence[0]), float(arousal[0]),
                                            float(messy["short_clip_seconds"]), int(params["sample_rate"]), 2, seed,
                                            cues)
    if messy.get("missing_audio"):
        del audio[f"{int(excerpt_ids[1])}.mp3"]
    if messy.get("corrupt_audio"):
        audio[f"{int(excerpt_ids[2])}.mp3"] = _broken_mp3(b"this is not an mp3 file\n" * 40)
    if messy.get("unannotated_audio"):
        audio["2500.mp3"] = demo_song(2500, 0.0, 0.0, 3.0, 22050, 1, seed, cues)

    first = pd.DataFrame({"song_id": excerpt_ids, "valence_mean": valence_mean[:n_excerpts],
                          "valence_std": valence_std[:n_excerpts], "arousal_mean": arousal_mean[:n_excerpts],
                          "arousal_std": arousal_std[:n_excerpts]})[FIRST_FILE_COLUMNS]
    tail = slice(n_excerpts, None)
    spread = np.round(rng.uniform(0.3, 1.2, (n_full, 4)), 2)
    second = pd.DataFrame(
        {
            "song_id": full_ids,
            "valence_mean": valence_mean[tail], "valence_std": valence_std[tail],
            "valence_ max_mean": np.clip(valence_mean[tail] + spread[:, 0], 1, 9), "valence_max_std": spread[:, 1],
            "valence_min_mean": np.clip(valence_mean[tail] - spread[:, 0], 1, 9), "valence_min_std": spread[:, 1],
            "arousal_mean": arousal_mean[tail], "arousal_std": arousal_std[tail],
            "arousal_max_mean": np.clip(arousal_mean[tail] + spread[:, 2], 1, 9), "arousal_max_std": spread[:, 3],
            "arousal_min_mean": np.clip(arousal_mean[tail] - spread[:, 2], 1, 9), "arousal_min_std": spread[:, 3],
        }
    )[SECOND_FILE_COLUMNS].round(2)
    fingerprint = hashlib.sha256(json.dumps({"params": params, "seed": int(seed)}, sort_keys=True,
                                            default=str).encode()).hexdigest()[:16]
    return GeneratedCorpus(audio, fingerprint), _with_deam_spacing(first), _with_deam_spacing(second)


def _full_song_lengths(setting: float | list[float], n: int, seed: int) -> np.ndarray:
    if isinstance(setting, int | float):
        return np.full(n, float(setting))
    shortest, longest = (float(v) for v in setting)
    if not 0 < shortest <= longest:
        raise ValueError(f"demo_data.full_song_seconds must be seconds or [shortest, longest], got {setting}")
    return np.round(np.random.default_rng(seed + FULL_SONG_LENGTH_SEED_OFFSET).uniform(shortest, longest, n), 1)
