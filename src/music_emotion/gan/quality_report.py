"""The quality report of a generator's samples (either family): do they look like real windows, and do they carry
their labels? Wired by `gan_augmentation` and `diffusion_augmentation` alike, so both generators are judged by the
same measures and the same independent reader."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from music_emotion.data import TARGETS
from music_emotion.data.corpus import Corpus
from music_emotion.data.features import pooled_mel_statistics, window_features
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.gan.quality import (
    SongWindows,
    collapse_report,
    fidelity_report,
    frechet_report,
    level_report,
)
from music_emotion.gan.reader import ReaderParams, failed_targets, independent_reading
from music_emotion.jsonable import json_safe
from music_emotion.study.lineage import fingerprint

logger = logging.getLogger(__name__)


def assess_synthetic_quality(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    synthetic_spectrograms: SpectrogramSet,
    synthetic_labels: pd.DataFrame,
    quality: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    """Fréchet distance with a real-vs-real floor, conditioning fidelity both ways (TRTS, TSTR), a collapse guard.

    Real songs are cut into windows of the GAN's length (half a window apart), so real and synthetic are
    compared like for like; scores on real songs average their windows' predictions per song.
    """
    rng = np.random.default_rng(seed)
    corpus = Corpus(mel_spectrograms, emotion_labels, song_splits)
    train, val = corpus.train, corpus.part("val", allow_empty=True)
    window = synthetic_spectrograms.shape[1]
    stride = max(1, window // 2)
    real_train, train_pos = window_features(mel_spectrograms.values, train.rows, train.valid_frames, window, stride)
    real_val, val_pos = window_features(mel_spectrograms.values, val.rows, val.valid_frames, window, stride)
    synthetic = pooled_mel_statistics(synthetic_spectrograms.values)
    labels = synthetic_labels.set_index("sample_id").loc[synthetic_spectrograms.ids]
    y_synthetic = labels[list(TARGETS)].to_numpy(dtype=np.float64)
    has_val = len(val) >= 2
    # TSTR / reference on real VAL songs (never used to train the GAN), per song; TRAIN when there is no VAL
    held_out = SongWindows(real_val, val_pos, val.targets, "val") if has_val else \
        SongWindows(real_train, train_pos, train.targets, "train")
    n_mels = mel_spectrograms.shape[0]
    report = {
        "feature": {
            "name": "pooled_mel_statistics of windows",
            "description": f"per-mel-band mean and standard deviation over time of {window}-frame dB windows "
                           f"(real songs: every window, {stride} frames apart)",
            "dim": 2 * n_mels,
        },
        "n_real_train": len(train), "n_real_val": len(val),
        "n_real_train_windows": len(real_train), "n_real_val_windows": len(real_val),
        "n_synthetic": len(synthetic),
        "condition_sampling": str(synthetic_spectrograms.meta.get("condition_sampling", "unknown")),
        "generator_step": synthetic_spectrograms.meta.get("generator_step"),
        "lineage": {"synthetic_spectrograms": fingerprint(synthetic_spectrograms),
                    "generator": synthetic_spectrograms.meta.get("lineage", {}).get("generator")},
        "frechet_distance": frechet_report(real_train, real_val if has_val else None, synthetic,
                                           float(quality["frechet_ridge"]), rng),
        "conditioning_fidelity_ccc": fidelity_report(real_train, train.targets[train_pos], synthetic, y_synthetic,
                                                     held_out, float(quality["ridge_alpha"])),
    }
    report["tstr_ccc_val"] = report["conditioning_fidelity_ccc"]["train_synthetic_test_real"] if has_val else None
    report["mode_collapse"] = collapse_report(synthetic, real_train, int(quality["pairwise_max_samples"]),
                                              float(quality["collapse_ratio_threshold"]), rng)
    report["level_db"] = level_report(real_train, synthetic, n_mels)
    report["independent_reader"] = independent_reading(
        mel_spectrograms, emotion_labels, song_splits, synthetic_spectrograms.values, y_synthetic,
        ReaderParams.from_params(quality["reader"]), seed)
    if failed := failed_targets(report["independent_reader"]):
        logger.warning("The synthetic samples do not carry %s, as read by the independent reader: an arm trained on "
                       "them measures this generator, not generative augmentation", ", ".join(failed))
    if report["mode_collapse"]["possible_mode_collapse"]:
        logger.warning("Synthetic spectrograms are much less diverse than real ones (ratio %.2f): mode collapse?",
                       report["mode_collapse"]["ratio"])
    ratio = report["frechet_distance"]["ratio_to_floor"]
    logger.info(
        "GAN quality: conditioning CCC V %.3f A %.3f (independent reader V %.3f A %.3f, on real %s songs V %.3f "
        "A %.3f); TSTR on %s songs V %.3f A %.3f; Fréchet ratio %s",
        *report["conditioning_fidelity_ccc"]["train_real_test_synthetic"].values(),
        *(report["independent_reader"][t]["conditioning_ccc"] for t in TARGETS),
        report["independent_reader"]["held_out_split"],
        *(report["independent_reader"][t]["real_ccc"] for t in TARGETS), held_out.split,
        *report["conditioning_fidelity_ccc"]["train_synthetic_test_real"].values(),
        f"{ratio:.2f}" if ratio else "n/a",
    )
    return json_safe(report)
