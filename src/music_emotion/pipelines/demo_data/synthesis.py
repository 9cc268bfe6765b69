"""Synthetic songs whose emotion is audible: the demo's learnable stand-in for DEAM.

Valence is carried by harmony and register (major vs minor triads, higher vs lower pitch);
arousal by tempo, loudness, note density, brightness (harmonics) and percussive noise.
A model that learns these cues from log-mel spectrograms has learnt something real about the
signal — which is all the demo can show; it says nothing about accuracy on DEAM.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

MAJOR = (0, 4, 7)
MINOR = (0, 3, 7)


def synthesise_song(valence: float, arousal: float, seconds: float, sample_rate: int, channels: int, seed: int,
                    cues: Mapping[str, float]) -> np.ndarray:
    """(n_samples, channels) float32 in [-1, 1] for a song with the given valence/arousal in [-1, 1].

    `cues` (`demo_data.cues`) scales how strongly register, tempo, brightness and loudness follow the emotion
    (1 = the demo's mix, 0 = constant); mode, chord progression and percussion always do."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t_song = np.arange(n) / sample_rate
    signal = np.zeros(n, dtype=np.float64)

    bpm = 70 + 55 * (cues["tempo"] * arousal + 1)            # 70 .. 180 beats per minute
    beat = 60.0 / bpm
    root_midi = 52 + 7 * (cues["register"] * valence) + rng.uniform(-1, 1)  # register rises with valence
    harmonics = 1 + int(round(3 + 3 * (cues["brightness"] * arousal)))  # 1 .. 7 partials: brighter when excited
    loudness = 0.25 + 0.2 * (cues["loudness"] * arousal + 1)            # quieter when calm
    triad = MAJOR if valence >= 0 else MINOR
    progression = [0, 5, 7, 0] if valence >= 0 else [0, 8, 5, 7]

    n_beats = int(seconds / beat) + 1
    for b in range(n_beats):
        start = int(b * beat * sample_rate)
        if start >= n:
            break
        length = min(int(beat * sample_rate * (0.9 if arousal < 0 else 0.6)), n - start)
        t = np.arange(length) / sample_rate
        chord_root = root_midi + progression[(b // 4) % len(progression)]
        envelope = np.exp(-t * (2 + 6 * (arousal + 1))) if arousal >= 0 else np.minimum(1, t * 8) * np.exp(-t * 1.5)
        note = np.zeros(length)
        for interval in triad:
            freq = 440.0 * 2 ** ((chord_root + interval - 69) / 12)
            for h in range(1, harmonics + 1):
                note += np.sin(2 * np.pi * freq * h * t + rng.uniform(0, 2 * np.pi)) / h**1.2
        signal[start : start + length] += envelope * note
        if arousal > -0.3:  # percussive noise burst on each beat, stronger when excited
            hit = min(int(0.05 * sample_rate), n - start)
            signal[start : start + hit] += ((0.2 + 0.6 * (arousal + 0.3)) * rng.standard_normal(hit)
                                            * np.exp(-np.arange(hit) / (0.01 * sample_rate)))

    signal += 0.003 * rng.standard_normal(n)
    signal *= loudness / max(np.max(np.abs(signal)), 1e-9)
    if channels == 1:
        return signal.astype(np.float32)[:, None]
    pan = 0.1 * np.sin(2 * np.pi * 0.2 * t_song)
    return np.stack([signal * (1 - pan), signal * (1 + pan)], axis=1).astype(np.float32) / 1.1


def demo_song(song_id: int, valence: float, arousal: float, seconds: float, sample_rate: int, channels: int, seed: int,
              cues: Mapping[str, float]):
    """Zero-argument factory for `AudioFolderDataset.save`: synthesised only when written, one at a time."""

    def make() -> tuple[np.ndarray, int]:
        return synthesise_song(valence, arousal, seconds, sample_rate, channels, seed + song_id, cues), sample_rate

    return make
