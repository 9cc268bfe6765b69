"""Checks before GAN samples are trained on next to real songs: shapes, settings, labels, provenance."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from music_emotion.data import TARGETS
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.data.splits import SPLITS, split_ids
from music_emotion.data.tables import require_columns, rerun

logger = logging.getLogger(__name__)


def synthetic_training_samples(
    synthetic: SpectrogramSet,
    synthetic_labels: pd.DataFrame,
    mel_spectrograms: SpectrogramSet,
    song_splits: dict[str, Any],
    window: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, (n, 2) targets, valid frames) of the synthetic set, after checking it fits the real songs.

    A GAN that saw any song outside the current TRAIN split is refused: its samples would leak VAL/TEST
    songs into training (e.g. after data_processing was re-run with another seed).
    """
    if len(synthetic) != len(synthetic_labels):
        raise ValueError(
            f"synthetic_spectrograms has {len(synthetic)} samples but synthetic_labels has {len(synthetic_labels)} "
            "rows: spectrogram/label count mismatch; re-run gan_augmentation"
        )
    if synthetic.shape[0] != mel_spectrograms.shape[0] or synthetic.shape[1] < window:
        raise ValueError(
            f"synthetic_spectrograms are {synthetic.shape} (mels x frames) "
            f"but the ViT needs {mel_spectrograms.shape[0]} "
            f"mel bins and windows of {window} frames: set gan_augmentation.window_seconds >= "
            "training.model.window_seconds and re-run gan_augmentation"
        )
    real_extraction, synthetic_extraction = (_comparable(s.extraction)
                                             for s in (mel_spectrograms, synthetic))
    if real_extraction and synthetic_extraction and real_extraction != synthetic_extraction:
        raise ValueError(
            "synthetic_spectrograms were made with other extraction settings than mel_spectrograms "
            f"({synthetic_extraction} vs {real_extraction}); re-run gan_augmentation after data_processing"
        )
    gan_songs = synthetic.meta.get("gan_train_song_ids")
    if gan_songs is None:
        logger.warning("synthetic_spectrograms do not record which songs their GAN was trained on; "
                       "cannot verify that it never saw a VAL/TEST song")
    else:
        outside = sorted(set(gan_songs) - set(split_ids(song_splits, "train")), key=str)
        if outside:
            raise ValueError(
                f"synthetic_spectrograms come from a GAN trained on {len(outside)} song(s) that are not in the current "
                f"TRAIN split (first: {outside[:5]}), e.g. after data_processing was re-run with another seed: "
                "training on them would leak VAL/TEST songs. Re-run gan_augmentation before training"
            )
    real_ids = set(mel_spectrograms.ids) | {i for split in SPLITS for i in song_splits.get(split, [])}
    leaked = [i for i in synthetic.ids if i in real_ids]
    if leaked:
        raise ValueError(f"synthetic sample ids collide with real song ids (first: {leaked[:5]})")
    require_columns(synthetic_labels, ("sample_id", *TARGETS), "synthetic_labels", rerun("gan_augmentation"))
    labels = synthetic_labels.set_index("sample_id")[list(TARGETS)]
    absent = [i for i in synthetic.ids if i not in labels.index]
    if absent:
        raise ValueError(f"{len(absent)} synthetic sample(s) have no label (first: {absent[:5]})")
    y = labels.loc[synthetic.ids].to_numpy(dtype=np.float32)
    if not np.isfinite(y).all():
        raise ValueError("synthetic_labels has NaN/inf valence or arousal")
    return np.arange(len(synthetic), dtype=np.int64), y, synthetic.valid_frames()


def _comparable(extraction: dict[str, Any] | None) -> dict[str, Any] | None:
    """Extraction settings that decide what a frame means (the stored span may differ: GAN windows are shorter)."""
    if not extraction:
        return None
    return {k: v for k, v in extraction.items() if k not in ("duration", "offset")}
