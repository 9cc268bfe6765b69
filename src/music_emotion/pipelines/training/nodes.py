"""`training` nodes: one ViT per ViT arm, the two baselines, and one evaluation of every arm.

The protocol: fit on real TRAIN songs (+ that split's synthetic samples for arms with `synthetic:
true`), choose the checkpoint on real VAL songs only, and touch the real TEST songs once, in
`evaluate_test_set`, where every arm is scored on the same songs with bootstrap CIs. The
`experiment` pipeline calls the same functions with a fold's splits.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from music_emotion.data import TARGETS
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.study import metrics
from music_emotion.study.evaluation import prediction_frame, score_arms
from music_emotion.study.lineage import fingerprint

logger = logging.getLogger(__name__)


def evaluate_test_set(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    params: dict[str, Any],
    seed: int,
    device: str,
    ast_features: SpectrogramSet | None = None,
    audio_embeddings: SpectrogramSet | None = None,
    **models: Any,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score every arm's model once, on the same real TEST songs: metrics over the whole set + bootstrap CIs.

    `models` maps arm name -> fitted model (a trained ViT/AST or a baseline dict), whatever arms exist; each
    is fed the feature set it was trained on (`ast_features` for AST arms, `audio_embeddings` for embedding arms).
    """
    if not models:
        raise ValueError("evaluate_test_set got no models: the `arms` map in conf is empty")
    n_resamples = int(params["evaluation"]["n_resamples"])
    frames, report = [], {}
    splits_fingerprint = fingerprint(song_splits)
    feature_sets = {"mel_spectrograms": mel_spectrograms, "ast_features": ast_features,
                    "audio_embeddings": audio_embeddings}
    for name, model, part, y_pred in score_arms(models, feature_sets, emotion_labels, song_splits, params, device):
        frames.append(prediction_frame(part, name, y_pred))
        report[name] = {"n_songs": len(part), **metrics.regression_report(part.targets, y_pred, n_resamples, seed),
                        "lineage": {"model": fingerprint(model), "song_splits": splits_fingerprint}}
        logger.info(
            "TEST %-15s CCC valence %.3f [%.3f, %.3f]  arousal %.3f [%.3f, %.3f]",
            name, *(report[name][t]["ccc"][k] for t in TARGETS for k in ("value", "ci_low", "ci_high")),
        )
    return pd.concat(frames, ignore_index=True), report
