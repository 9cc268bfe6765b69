"""`Corpus`: spectrograms, labels and a split read together, so no node unpacks the triple by hand.

`corpus.part("train")` gives the ids, the rows of those songs in the (memory-mapped) spectrogram
array, their (n, 2) targets and how many frames of each row are real audio. The single-split run
(`song_splits` from `data_processing`) and every fold of the `experiment` (a split dict per fold) use
the same view, so a fold is just another `splits` mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.data.splits import split_ids, targets_for_ids


@dataclass(frozen=True)
class Part:
    """The songs of one split: ids, array rows, (n, 2) float32 targets, valid (unpadded) frames per row."""

    name: str
    ids: list
    rows: np.ndarray
    targets: np.ndarray
    valid_frames: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Corpus:
    """Real songs: `spectrograms` (ids + rows), `labels` (song_id, valence, arousal) and `splits`."""

    spectrograms: SpectrogramSet
    labels: pd.DataFrame
    splits: Mapping[str, Any]

    def part(self, split: str, allow_empty: bool = False) -> Part:
        ids = split_ids(self.splits, split, allow_empty=allow_empty)
        try:
            rows = self.spectrograms.indices_of(ids)
        except KeyError as exc:
            raise ValueError(f"song_splits['{split}']: {exc.args[0]}") from None
        return Part(split, ids, rows, targets_for_ids(self.labels, ids, split), self.spectrograms.valid_frames(rows))

    @property
    def train(self) -> Part:
        return self.part("train")

    @property
    def val(self) -> Part:
        return self.part("val")

    @property
    def test(self) -> Part:
        return self.part("test")
