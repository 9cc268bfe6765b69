"""`experiment` nodes: song-level folds x seeds, one evaluation per fold, and the paired comparison.

Everything fitted inside a fold (the GAN, normalisation statistics, ridge, every ViT) is fitted by the
`training` / `gan_augmentation` node functions themselves on that fold's `song_splits`; the nodes
here only make the folds, collect predictions and compare arms.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from music_emotion.data import TARGETS
from music_emotion.data.corpus import Corpus
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.pipelines.experiment.comparison import compare_arms
from music_emotion.study import metrics
from music_emotion.study.evaluation import prediction_frame, score_arms

logger = logging.getLogger(__name__)



def evaluate_fold(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    params: dict[str, Any],
    seed: int,
    device: str,
    ast_features: SpectrogramSet | None = None,
    **fitted: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predictions of every arm for this fold's test songs, and each arm's training facts (steps, seconds).

    `fitted` holds `model__<arm>` (a ViT or baseline), for ViT arms `history__<arm>`, and the fold's `gan_history`
    when the fold trained a GAN: its kept step's conditioning CCC goes into the facts, so a reader can see whether
    the GAN arm's samples carried their labels in every fold.
    """
    test = Corpus(mel_spectrograms, emotion_labels, song_splits).test
    gan = _kept_gan_evaluation(fitted.get("gan_history"))
    frames, facts = [], []
    models = {key.removeprefix("model__"): model for key, model in fitted.items() if key.startswith("model__")}
    for arm, _, part, y_pred in score_arms(models, mel_spectrograms, ast_features, emotion_labels, song_splits,
                                           params, device):
        frames.append(prediction_frame(part, arm, y_pred).assign(fold=song_splits["fold"], seed=seed))
        history = fitted.get(f"history__{arm}")
        facts.append({"arm": arm, "fold": song_splits["fold"], "seed": seed,
                      "epochs": len(history) if history is not None else 0,
                      "steps": int(history["step"].iloc[-1]) if history is not None else 0,
                      "seconds": float(history["seconds"].iloc[-1]) if history is not None else float("nan"),
                      "n_train_songs": len(song_splits["train"]), "n_test_songs": len(test), **gan})
    logger.info("Fold %s, seed %s: %d arms evaluated on %d test songs", song_splits["fold"], seed, len(frames), len(test))
    columns = ["song_id", "fold", "seed", "model", *(f"{t}_{s}" for s in ("true", "pred") for t in TARGETS)]
    predictions = pd.concat(frames, ignore_index=True)[columns].rename(columns={"model": "arm"})
    return predictions, pd.DataFrame(facts)


def _kept_gan_evaluation(gan_history: pd.DataFrame | None) -> dict[str, float]:
    if gan_history is None or gan_history.empty:
        return {}
    kept = gan_history[gan_history["is_best"].astype(bool)].iloc[0]
    return {"gan_step": int(kept["step"]), "gan_conditioning_ccc_valence": float(kept["conditioning_ccc_valence"]),
            "gan_conditioning_ccc_arousal": float(kept["conditioning_ccc_arousal"])}


def aggregate_experiment(params: dict[str, Any], **tables: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(experiment_predictions, experiment_metrics, experiment_comparison) from every fold's tables.

    Metrics per fold x seed x arm and, per seed, pooled over all out-of-fold predictions (`fold` = pooled:
    the number comparable to published DEAM k-fold results). The comparison: every arm minus the reference
    arm, per target and metric, with a paired bootstrap CI over songs and the corrected resampled t-test.
    """
    predictions = pd.concat([t for k, t in sorted(tables.items()) if k.startswith("predictions__")], ignore_index=True)
    facts = pd.concat([t for k, t in sorted(tables.items()) if k.startswith("facts__")], ignore_index=True)
    _check_complete(predictions, params)
    metric_rows = []
    for (seed, fold, arm), group in predictions.groupby(["seed", "fold", "arm"], sort=True):
        metric_rows += _metric_rows(group, seed, fold, arm)
    for (seed, arm), group in predictions.groupby(["seed", "arm"], sort=True):
        metric_rows += _metric_rows(group, seed, "pooled", arm)
    per_unit = pd.DataFrame(metric_rows)
    table = per_unit.merge(facts, on=["arm", "fold", "seed"], how="left")
    return predictions, table, compare_arms(predictions, per_unit, facts, params)


def _metric_rows(group: pd.DataFrame, seed: int, fold: Any, arm: str) -> list[dict[str, Any]]:
    rows = []
    for target in TARGETS:
        y_true, y_pred = group[f"{target}_true"].to_numpy(), group[f"{target}_pred"].to_numpy()
        for name, fn in metrics.METRICS.items():
            rows.append({"seed": seed, "fold": fold, "arm": arm, "target": target, "metric": name,
                         "value": fn(y_true, y_pred), "n_songs": len(group)})
    return rows


def _check_complete(predictions: pd.DataFrame, params: dict[str, Any]) -> None:
    """Every arm has a finite prediction for every song of every seed: a failed fold is an error, never a gap."""
    counts = predictions.groupby(["seed", "arm"])["song_id"].nunique()
    expected = predictions.groupby("seed")["song_id"].nunique()
    short = [f"arm {arm}, seed {seed}: {n} of {expected[seed]} songs" for (seed, arm), n in counts.items()
             if n != expected[seed]]
    bad = predictions[~np.isfinite(predictions[[f"{t}_pred" for t in TARGETS]]).all(axis=1)]
    if short or not bad.empty:
        raise ValueError("the experiment has missing or non-finite predictions, so averages would silently drop "
                         f"folds: {short[:5]} {len(bad)} non-finite row(s) (first folds: {sorted(set(bad.fold))[:5]})")
    if params["reference_arm"] not in set(predictions["arm"]):
        raise ValueError(f"experiment.reference_arm {params['reference_arm']!r} is not among the experiment's arms "
                         f"{sorted(set(predictions['arm']))}")


