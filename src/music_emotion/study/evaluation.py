"""Scoring fitted arms on a part of the real songs: each model on the feature set it was trained on.

`evaluate_test_set` (single split) and the experiment's `fit_and_record_arm` nodes share these, so every arm is
predicted by the same code on the same songs: baselines from pooled log-mel statistics, embedding probes from song
embeddings, ViT and AST arms window by window (`predict_songs`) on their own features.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from music_emotion.audio.fbank import KIND as FBANK_KIND
from music_emotion.data import TARGETS
from music_emotion.data.corpus import Corpus, Part
from music_emotion.data.features import pooled_mel_statistics
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.models.embedding_probe import EmbeddingProbeRegressor
from music_emotion.models.probe_readout import predict_readout, probe_song_predictions
from music_emotion.models.runtime import resolve_device, torch_threads
from music_emotion.models.song_prediction import predict_songs
from music_emotion.study.training_loop import TrainingConfig

logger = logging.getLogger(__name__)


def feature_set_of(model: Any) -> str:
    """The catalog entry a fitted model reads: its stored extraction `kind` for a network (AST filter banks or
    log-mel), the cached embeddings for an embedding probe (served or as fitted), log-mel for baselines."""
    if isinstance(model, EmbeddingProbeRegressor):
        return "audio_embeddings"
    if isinstance(model, nn.Module):
        kind = (model.config.get("extraction") or {}).get("kind", "log_mel")
        return "ast_features" if kind == FBANK_KIND else "mel_spectrograms"
    return "audio_embeddings" if isinstance(model, dict) and model.get("model") == "embedding_probe" \
        else "mel_spectrograms"


def test_part_for(
    model: Any, feature_sets: Mapping[str, SpectrogramSet | None], emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
) -> tuple[SpectrogramSet, Part]:
    """The feature set a fitted model reads (`feature_set_of`) and its TEST part.

    Every feature set holds the same songs, so every arm is scored on the same TEST songs in the same order."""
    name = feature_set_of(model)
    features = feature_sets.get(name)
    if features is None:
        raise ValueError(f"a {name} arm's model needs {name}, which this evaluation was not given")
    mel = feature_sets.get("mel_spectrograms")
    if mel is not None and features is not mel:
        require_same_songs(mel, features, name)
    return features, Corpus(features, emotion_labels, song_splits).test


def require_same_songs(mel_spectrograms: SpectrogramSet, features: SpectrogramSet, name: str) -> None:
    """`features` (AST filter banks, song embeddings) must hold the songs of `mel_spectrograms` over the same span:
    otherwise (an older version of one of them, from another data_processing run) the arms would not be compared on
    the same audio."""
    mel, other = (s.extraction for s in (mel_spectrograms, features))
    span = [(float(e.get("duration", 0.0)), float(e.get("offset", 0.0))) for e in (mel, other)]
    if list(mel_spectrograms.ids) != list(features.ids) or span[0] != span[1]:
        raise ValueError(
            f"{name} ({len(features)} songs, span {span[1]}) were not made with mel_spectrograms "
            f"({len(mel_spectrograms)} songs, span {span[0]}) in one data_processing run: re-run "
            "`kedro run --pipelines data_processing` so both are made from the same songs"
        )


def predict_part(model: Any, features: SpectrogramSet, part: Part, params: dict[str, Any],
                 device: str) -> np.ndarray:
    """(n, 2) song-level predictions of any arm's fitted model for the songs of `part`."""
    if isinstance(model, dict) and model.get("model") == "mean_baseline":
        return np.tile([model[t] for t in TARGETS], (len(part), 1)).astype(np.float64)
    if isinstance(model, dict) and model.get("model") == "ridge_baseline":
        return predict_readout(model, pooled_mel_statistics(features.values, rows=part.rows))
    if isinstance(model, EmbeddingProbeRegressor):  # the served model scores cached embeddings with its probe
        model = {"model": "embedding_probe", **model.readout()}
    if isinstance(model, dict) and model.get("model") == "embedding_probe":
        return probe_song_predictions(model, features.values, part.rows, part.valid_frames).astype(np.float64)
    if isinstance(model, nn.Module):
        training = TrainingConfig.from_params(params["optimisation"])
        with torch_threads(training.cpu_threads):
            predictions = predict_songs(model, features.values, part.rows, part.valid_frames,
                                        training.eval_batch_size, resolve_device(device), training.mixed_precision)
        model.to("cpu")
        return predictions.songs.astype(np.float64)
    raise TypeError(f"cannot predict with a {type(model).__name__}: expected a baseline or probe dict or a trained "
                    "ViT/AST")


def prediction_frame(part: Part, arm: str, y_pred: np.ndarray) -> pd.DataFrame:
    """One row per song: song_id, model (= arm), true and predicted valence/arousal."""
    y_pred = np.asarray(y_pred, dtype=np.float64)
    return pd.DataFrame(
        {
            "song_id": part.ids,
            "model": arm,
            **{f"{t}_true": part.targets[:, i].astype(np.float64) for i, t in enumerate(TARGETS)},
            **{f"{t}_pred": y_pred[:, i] for i, t in enumerate(TARGETS)},
        }
    )


def warn_short_songs(part: Part, window: int) -> list:
    """Songs with less real audio than one window are kept, padded, and named here (never dropped silently)."""
    short = [song for song, frames in zip(part.ids, part.valid_frames, strict=True) if frames < window]
    if short:
        logger.warning("%d %s song(s) are shorter than one window (%d frames); each is used as one padded window: %s",
                       len(short), part.name.upper(), window, short[:10])
    return short


def score_arms(
    models: Mapping[str, Any], feature_sets: Mapping[str, SpectrogramSet | None], emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any], params: dict[str, Any], device: str,
) -> Iterator[tuple[str, Any, Part, np.ndarray]]:
    """The one scoring loop: each arm's fitted model on the TEST songs of `song_splits`, read from the feature set
    it was trained on -> (arm, model, TEST part, (n, 2) song predictions). Songs shorter than a model's window
    are named, never dropped."""
    for arm, model in models.items():
        features, part = test_part_for(model, feature_sets, emotion_labels, song_splits)
        if isinstance(model, nn.Module) and not isinstance(model, EmbeddingProbeRegressor):
            warn_short_songs(part, model.window_frames)
        yield arm, model, part, predict_part(model, features, part, params, device)
