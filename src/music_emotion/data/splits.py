"""Reading `song_splits` and the labels of its songs: one set of checks for every pipeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from music_emotion.data import TARGETS
from music_emotion.data.tables import require_columns, rerun

SPLITS = ("train", "val", "test")


def split_ids(song_splits: Mapping[str, Any], split: str, allow_empty: bool = False) -> list:
    """The song ids of `split` ("train", "val" or "test"); an empty split is an error unless allowed."""
    if not isinstance(song_splits, Mapping) or split not in song_splits:
        keys = sorted(song_splits) if isinstance(song_splits, Mapping) else type(song_splits).__name__
        raise ValueError(f"song_splits has no '{split}' list (keys: {keys}); re-run the data_processing pipeline")
    ids = list(song_splits[split] or [])
    if not ids and not allow_empty:
        raise ValueError(
            f"song_splits['{split}'] is empty: nothing to train/validate/test on; check "
            "data_processing.split fractions and that songs have both a spectrogram and a label"
        )
    return ids


def targets_for_ids(emotion_labels: pd.DataFrame, ids: Sequence[Any], split: str = "split") -> np.ndarray:
    """(n, 2) float32 (valence, arousal) of `ids`, in that order; errors name the columns or songs missing."""
    require_columns(emotion_labels, ("song_id", *TARGETS), "emotion_labels", rerun("data_processing"))
    table = emotion_labels.drop_duplicates("song_id").set_index("song_id")
    absent = [i for i in ids if i not in table.index]
    if absent:
        raise ValueError(
            f"{len(absent)} {split} song(s) have no row in emotion_labels (first: {absent[:5]}): song_splits and "
            "emotion_labels come from different runs, or spectrogram/label count mismatch; re-run data_processing"
        )
    targets = table.loc[list(ids), list(TARGETS)].to_numpy(dtype=np.float32)
    if not np.isfinite(targets).all():
        raise ValueError(f"emotion_labels has NaN/inf valence or arousal for {split} songs; re-run data_processing")
    return targets


def song_strata(labels: pd.DataFrame, stratify: str, parameter: str) -> np.ndarray:
    """Stratum per row of `labels`: the valence/arousal quadrant 0-3 (`quadrant`), so every split and fold
    spans the emotion plane, or one stratum for all (`none`)."""
    if stratify == "quadrant":
        return (labels["valence"].to_numpy() >= 0).astype(int) * 2 + (labels["arousal"].to_numpy() >= 0).astype(int)
    if stratify == "none":
        return np.zeros(len(labels), dtype=int)
    raise ValueError(f"{parameter} must be 'quadrant' or 'none', got {stratify!r}")


def deal_by_stratum(
    ids: np.ndarray, strata: np.ndarray, fractions: Mapping[str, float], rng: np.random.Generator
) -> dict[str, list]:
    """Shuffle songs within each stratum, then deal them one by one to whichever part is furthest below its
    fraction: every part gets its share of every stratum, deterministically for a given generator."""
    order = np.concatenate([rng.permutation(ids[strata == s]) for s in np.unique(strata)])
    assigned: dict[str, list] = {name: [] for name in fractions}
    for position, song_id in enumerate(order, start=1):
        deficit = {name: fractions[name] * position - len(assigned[name]) for name in fractions}
        assigned[max(fractions, key=lambda name: deficit[name])].append(
            song_id.item() if hasattr(song_id, "item") else song_id)
    return assigned


def split_from_lists(lists: Mapping[str, str], available: Sequence[int],
                     parameter: str) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """A published split (one song id per line per file, e.g. Music2Emo's DEAM lists): the songs of each list that
    the corpus holds, and those it does not (reported, never silently dropped). A file that is missing, a line
    that is no song id and a song in two lists are errors naming the file."""
    if set(lists) != set(SPLITS):
        raise ValueError(f"{parameter} needs exactly the files {list(SPLITS)}, got {sorted(lists)}")
    held = set(int(song) for song in available)
    kept: dict[str, list[int]] = {}
    absent: dict[str, list[int]] = {}
    owner: dict[int, str] = {}
    for split in SPLITS:
        path = Path(lists[split]).expanduser()
        if not path.is_file():
            raise ValueError(f"{parameter}.{split}: no file '{path}' (one song id per line, e.g. Music2Emo's "
                             "dataset/deam/meta/split/*.txt)")
        ids = []
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            text = line.strip().removesuffix(".mp3")
            if not text:
                continue
            if not text.isdigit():
                raise ValueError(f"{path}:{number}: '{line.strip()}' is not a song id ({parameter}.{split})")
            song = int(text)
            if song in owner:
                raise ValueError(f"{path}:{number}: song {song} is in both the {owner[song]} and {split} lists")
            owner[song] = split
            ids.append(song)
        kept[split] = sorted(song for song in ids if song in held)
        absent[split] = sorted(song for song in ids if song not in held)
    return kept, absent
