"""The independent reader: does a generator's sample carry the valence/arousal it was asked for, judged by a model
the generator never met?

The GAN's checkpoint is selected by a ridge on pooled mel statistics (`probe.py`); a generator can learn to please
that one reader (right band levels) while missing what makes music sound happy or calm in time (tempo, note
density, rhythm). So the conditioning that reports and verdicts trust is read by another model family on other
features, fitted on real TRAIN windows only:

- features: the spectrogram averaged into a few coarse bands, then per band its mean, spread, mean frame-to-frame
  change (flux) and the energy of its envelope's fluctuations in octave-wide modulation-frequency bins (how fast
  the band pulses: tempo and note density live there);
- model: gradient-boosted trees (scikit-learn's HistGradientBoostingRegressor), one per target.

It reports its own CCC on held-out real songs beside its reading of the samples: a sample carries a target when
its reading reaches `min_fraction` of what the reader achieves on real music (a reader that cannot read real songs
cannot judge a generator either).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from music_emotion.config import from_section
from music_emotion.data import TARGETS
from music_emotion.data.corpus import Corpus
from music_emotion.data.features import window_features
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.data.windows import average_by_song
from music_emotion.study.metrics import ccc

DESCRIPTION = ("gradient-boosted trees on spectro-temporal features (per coarse band: mean, spread, flux, "
               "envelope modulation energy per octave): another model family and other features than the ridge "
               "on pooled mel statistics that selects the GAN's checkpoint")


@dataclass(frozen=True)
class ReaderParams:
    """`gan_augmentation.quality.reader`: every key is required; the defaults live in conf/base."""

    bands: int                 # coarse frequency bands the mel bins are averaged into
    modulation_bins: int       # octave-wide modulation-frequency bins, from the fastest (Nyquist of the frames) down
    max_iter: int              # boosting iterations per target
    learning_rate: float
    max_leaf_nodes: int
    min_fraction: float        # a target is carried when the samples' CCC >= min_fraction x the real songs' CCC

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ReaderParams:
        reader = from_section(cls, params, "gan_augmentation.quality.reader",
                              "conf/base/parameters_gan_augmentation.yml")
        if reader.bands < 1 or reader.modulation_bins < 1 or not 0 < reader.min_fraction <= 1:
            raise ValueError("gan_augmentation.quality.reader: bands and modulation_bins must be >= 1, min_fraction "
                             "in (0, 1]")
        return reader


def spectro_temporal_features(windows: np.ndarray, bands: int, modulation_bins: int) -> np.ndarray:
    """(n, n_mels, frames) dB windows -> (n, bands * (3 + modulation_bins)) float64 reader features."""
    windows = np.asarray(windows, dtype=np.float64)
    n, n_mels, frames = windows.shape
    edges = np.linspace(0, n_mels, min(bands, n_mels) + 1).astype(int)
    coarse = np.stack([windows[:, lo:hi].mean(axis=1) for lo, hi in zip(edges[:-1], edges[1:], strict=True)], axis=1)
    mean, spread = coarse.mean(axis=2), coarse.std(axis=2)
    flux = np.abs(np.diff(coarse, axis=2)).mean(axis=2) if frames > 1 else np.zeros_like(mean)
    spectrum = np.abs(np.fft.rfft(coarse - mean[..., None], axis=2)) ** 2  # (n, bands, frames // 2 + 1)
    top = spectrum.shape[2]
    # octave bins from the top down: [top/2, top), [top/4, top/2), ...; the lowest takes what is left (not DC)
    bounds = [max(1, top >> (k + 1)) for k in range(modulation_bins)]
    modulation = []
    upper = top
    for k, lower in enumerate(bounds):
        lower = 1 if k == modulation_bins - 1 else lower
        modulation.append(np.log1p(spectrum[..., lower:upper].mean(axis=2)) if upper > lower else np.zeros_like(mean))
        upper = lower
    return np.concatenate([mean, spread, flux, *modulation], axis=1)


class IndependentReader:
    """Gradient-boosted trees per target on `spectro_temporal_features` (computed by `features`, a block of windows
    at a time), fitted on real TRAIN windows."""

    def __init__(self, params: ReaderParams, seed: int) -> None:
        self.params, self.seed = params, seed
        self._models: list[Any] = []

    def features(self, windows: np.ndarray) -> np.ndarray:
        return spectro_temporal_features(windows, self.params.bands, self.params.modulation_bins)

    def fit(self, features: np.ndarray, targets: np.ndarray) -> IndependentReader:
        from sklearn.ensemble import HistGradientBoostingRegressor

        self._models = [HistGradientBoostingRegressor(
            max_iter=self.params.max_iter, learning_rate=self.params.learning_rate,
            max_leaf_nodes=self.params.max_leaf_nodes, random_state=self.seed,
        ).fit(features, targets[:, i]) for i in range(targets.shape[1])]
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        return np.stack([model.predict(features) for model in self._models], axis=1)


def independent_reading(mel_spectrograms: SpectrogramSet, emotion_labels: pd.DataFrame, song_splits: dict[str, Any],
                        samples: np.ndarray, sample_targets: np.ndarray, params: ReaderParams, seed: int,
                        block: int = 64) -> dict[str, Any]:
    """Fit the reader on windows of the real TRAIN songs (the samples' length, half a window apart), score it on
    the VAL songs (TRAIN when a split has no VAL songs), and read `samples` back: `reader_report`'s numbers."""
    reader = IndependentReader(params, seed)
    corpus = Corpus(mel_spectrograms, emotion_labels, song_splits)
    train, val = corpus.train, corpus.part("val", allow_empty=True)
    held_out = val if len(val) >= 2 else train
    window = samples.shape[-1]
    stride = max(1, window // 2)
    x_train, train_song = window_features(mel_spectrograms.values, train.rows, train.valid_frames, window, stride,
                                          feature=reader.features)
    x_held, held_song = window_features(mel_spectrograms.values, held_out.rows, held_out.valid_frames, window,
                                        stride, feature=reader.features)
    reader.fit(x_train, train.targets[train_song])
    x_samples = np.concatenate([reader.features(np.asarray(samples[i:i + block]))
                                for i in range(0, len(samples), block)])
    real = average_by_song(reader.predict(x_held), held_song, len(held_out))
    read = reader.predict(x_samples)
    report: dict[str, Any] = {"reader": DESCRIPTION, "held_out_split": "val" if held_out is val else "train",
                              "min_fraction": params.min_fraction, "n_train_windows": len(x_train)}
    for i, target in enumerate(TARGETS):
        on_real = ccc(held_out.targets[:, i], real[:, i])
        on_samples = ccc(sample_targets[:, i], read[:, i])
        carried = bool(np.isfinite(on_samples) and np.isfinite(on_real) and on_real > 0
                       and on_samples >= params.min_fraction * on_real)
        report[target] = {"real_ccc": on_real, "conditioning_ccc": on_samples,
                          "fraction": on_samples / on_real if on_real > 0 else float("nan"), "carried": carried}
    return report


def failed_targets(report: dict[str, Any]) -> list[str]:
    """The targets a generator's samples do not carry, in words for a verdict: 'valence (0.31 vs 0.80 on real)'."""
    return [f"{t} ({report[t]['conditioning_ccc']:.2f} vs {report[t]['real_ccc']:.2f} on real)"
            for t in TARGETS if t in report and not report[t]["carried"]]


def generator_verdict(report: dict[str, Any]) -> str:
    """One sentence on whether a generator's samples carry their labels, as the independent reader read them:
    what a summary or model card says beside the numbers of an arm trained on those samples."""
    if failed := failed_targets(report):
        return (f"inconclusive: the generator's samples do not carry {' and '.join(failed)}, as read by an "
                "independent reader, so this arm measures that generator, not generative augmentation")
    carried = ", ".join(f"{t} {report[t]['conditioning_ccc']:.2f} (real songs {report[t]['real_ccc']:.2f})"
                        for t in TARGETS if t in report)
    return f"the generator's samples carry their labels as read by an independent reader: {carried}"
