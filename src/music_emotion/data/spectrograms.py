"""`SpectrogramSet`: a stack of log-mel spectrograms that always travels with its ids.

Rows and ids live in one object so that no node can misalign spectrograms with labels;
`values` may be a read-only memory map (see `datasets.SpectrogramDataset`), so prefer
`indices_of` + batched slicing over copying the whole array.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SongId = int | str


@dataclass
class SpectrogramSet:
    """`values[i]` is the (n_mels, n_frames) dB spectrogram of `ids[i]`; `meta` holds how it was made."""

    ids: list[SongId]
    values: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ids = [_plain_id(i) for i in self.ids]
        if self.values.ndim != 3:
            raise ValueError(
                f"SpectrogramSet.values must be 3-D (n_items, n_mels, n_frames), got shape {self.values.shape}"
            )
        if len(self.ids) != self.values.shape[0]:
            raise ValueError(
                f"SpectrogramSet has {len(self.ids)} ids but {self.values.shape[0]} spectrograms; "
                "ids and rows must match one to one"
            )
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("SpectrogramSet ids must be unique")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def extraction(self) -> dict[str, Any]:
        """How the features were made (the feature config stored with them); {} for a set that recorded none."""
        return self.meta.get("extraction") or {}

    @property
    def shape(self) -> tuple[int, int]:
        """(n_mels, n_frames) of one spectrogram."""
        return int(self.values.shape[1]), int(self.values.shape[2])

    def indices_of(self, ids: Iterable[SongId]) -> np.ndarray:
        """Row indices of `ids`, in the order given; raises naming the ids that are absent."""
        position = {song_id: row for row, song_id in enumerate(self.ids)}
        wanted = [_plain_id(i) for i in ids]
        missing = [i for i in wanted if i not in position]
        if missing:
            raise KeyError(
                f"{len(missing)} id(s) have no spectrogram (first: {missing[:5]}); "
                "re-run the data_processing pipeline or check the split"
            )
        return np.asarray([position[i] for i in wanted], dtype=np.int64)

    def valid_frames(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Frames of real audio in each of `rows` (the rest is padding); all frames when not recorded.

        `data_processing` records `meta["valid_frames"]` per row, so crops and windows can stay inside
        the audio of a song shorter than the stored span.
        """
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        recorded = self.meta.get("valid_frames")
        if recorded is None:
            return np.full(len(rows), self.shape[1], dtype=np.int64)
        if len(recorded) != len(self):
            raise ValueError(
                f"meta['valid_frames'] has {len(recorded)} entries for {len(self)} spectrograms; "
                "re-run the data_processing pipeline"
            )
        return np.minimum(np.asarray(recorded, dtype=np.int64)[rows], self.shape[1])

    def subset(self, ids: Sequence[SongId]) -> SpectrogramSet:
        """A new set holding only `ids` (copies those rows into memory)."""
        rows = self.indices_of(ids)
        meta = dict(self.meta)
        if "valid_frames" in meta:
            meta["valid_frames"] = self.valid_frames(rows).tolist()
        return SpectrogramSet(ids=[self.ids[r] for r in rows], values=np.asarray(self.values[rows]), meta=meta)


def db_range(
    spectrograms: SpectrogramSet, rows: np.ndarray, requested: Any = None, parameter: str = "db_range"
) -> tuple[float, float, str]:
    """(low, high, source): the dB values a model maps to the ends of its input range.

    An explicit `requested` [low, high] wins; else [-top_db, 0] when the extraction made dB relative
    to each clip's maximum (`ref: max`, the default); else (e.g. `ref: absolute`) the min/max of the
    given rows, read in sorted blocks so a memory map is never read whole.
    """
    if requested not in (None, "auto"):
        low, high = (float(v) for v in requested)
        source = "parameter"
    else:
        extraction = spectrograms.extraction
        if extraction.get("ref", "max") == "max" and extraction.get("top_db") is not None:
            low, high, source = -float(extraction["top_db"]), 0.0, "extraction.top_db"
        else:
            low, high = np.inf, -np.inf
            for start in range(0, len(rows), 256):
                block = np.asarray(spectrograms.values[np.sort(rows[start : start + 256])])
                low, high = min(low, float(block.min())), max(high, float(block.max()))
            source = "train data min/max"
    if not high > low:
        raise ValueError(f"{parameter} must have low < high, got [{low}, {high}]")
    return low, high, source


def _plain_id(song_id: Any) -> SongId:
    """Turn numpy scalars into plain Python ids so that JSON and dict lookups agree."""
    if isinstance(song_id, np.integer):
        return int(song_id)
    if isinstance(song_id, np.str_):
        return str(song_id)
    return song_id


def db_statistics(values: np.ndarray, rows: np.ndarray, valid_frames: np.ndarray,
                  block: int = 64) -> tuple[float, float]:
    """Mean and standard deviation of the dB values in the real frames of `rows` (AST-style dataset
    normalisation), accumulated in float64 over sorted blocks, so a memory map is never read whole."""
    rows, valid_frames = np.asarray(rows, dtype=np.int64), np.asarray(valid_frames, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    total = total_sq = count = 0.0
    for begin in range(0, len(rows), block):
        take = order[begin : begin + block]
        chunk = np.asarray(values[rows[take]], dtype=np.float64)
        mask = np.arange(chunk.shape[2])[None, None, :] < valid_frames[take][:, None, None]
        selected = np.where(mask, chunk, 0.0)
        total += selected.sum()
        total_sq += (selected**2).sum()
        count += float(mask.sum()) * chunk.shape[1]
    if count == 0:
        raise ValueError("no spectrogram frames to compute normalisation statistics from")
    mean = total / count
    std = float(np.sqrt(max(total_sq / count - mean**2, 0.0)))
    if not std > 0:
        raise ValueError("the training spectrograms are constant: normalisation statistics have zero spread")
    return float(mean), std
