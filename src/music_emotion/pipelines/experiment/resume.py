"""Resume: what the experiment's fitting nodes (`nodes.py`) share to score and record an arm in one step, or read
its record back.

Why not Kedro's `--only-missing-outputs` or `--from-nodes`: both decide by dataset *name*, and a unit's outputs
have the same names whatever the settings, so a changed arm, fold count or input set would silently reuse stale
results; and a unit's models are memory datasets (105 ViT-B/16 copies would be 36 GB), which Kedro always
recomputes. Here every result is keyed by its content (`study.unit_records`), the pipeline stays one static
DAG for every runner (Sequential, Parallel, Dask), and a recorded arm's node still runs but returns at once.
Fit, score and record are one node because Kedro orders a pipeline level by level: as separate nodes, every
unit's first arm would be fitted (and held in memory) before any was scored and recorded.
"""

from __future__ import annotations

import logging
import shutil
from typing import Any

import pandas as pd
from torch import nn

from music_emotion.data import TARGETS
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.study.evaluation import feature_set_of, prediction_frame, score_arms
from music_emotion.study.unit_records import (
    UnitRecord,
    UnitRecordStore,
)

logger = logging.getLogger(__name__)
PLAN = "experiment_plan"
STORE = "experiment_unit_records"


def recorded(store: UnitRecordStore, unit: str, arm: str, entry: dict[str, Any]) -> UnitRecord:
    record = store.find(unit, arm, entry["key"], entry["material"])
    if record is None:
        raise FileNotFoundError(f"experiment: the record of {arm} in {unit} ({entry['key']}) was listed at the "
                                f"start of the run but is gone from {store.path}; re-run to retrain it")
    return record


def score_and_record(
    experiment_plan: dict[str, Any], store: UnitRecordStore, unit: str, arm: str, model: Any,
    history: pd.DataFrame | None, gan_history: pd.DataFrame | None, features: SpectrogramSet,
    emotion_labels: pd.DataFrame, song_splits: dict[str, Any], training: dict[str, Any], seed: int, device: str,
    reading: dict[str, Any] | None = None,
) -> UnitRecord:
    """The arm's predictions for the fold's test songs (read from the feature set it was trained on) and its
    training facts (with the fold's generator's check by the independent reader, `reading`, for an arm trained on
    its samples), written before the node returns."""
    entry = experiment_plan["units"][unit][arm]
    ((_, _, part, y_pred),) = score_arms({arm: model}, {feature_set_of(model): features}, emotion_labels,
                                         song_splits, training, device)
    columns = ["song_id", "fold", "seed", "arm", *(f"{t}_{s}" for s in ("true", "pred") for t in TARGETS)]
    predictions = (prediction_frame(part, arm, y_pred).assign(fold=song_splits["fold"], seed=seed)
                   .rename(columns={"model": "arm"})[columns])
    facts = {"arm": arm, "fold": song_splits["fold"], "seed": seed,
             "epochs": len(history) if history is not None else 0,
             "steps": int(history["step"].iloc[-1]) if history is not None else 0,
             "seconds": float(history["seconds"].iloc[-1]) if history is not None else float("nan"),
             "n_train_songs": len(song_splits["train"]), "n_test_songs": len(part.ids),
             **kept_gan_evaluation(gan_history), **reader_facts(reading)}
    record = UnitRecord(unit, arm, entry["key"], predictions, facts)
    if experiment_plan["keep_models"]:
        folder = store.model_folder(unit, arm, entry["key"])
        if isinstance(model, nn.Module):
            save_model(model, folder)
        else:  # a baseline is a few numbers
            store.save_baseline(folder, model)
    store.save(record, entry["material"])
    logger.info("experiment: %s %s recorded (%d test songs)", unit, arm, len(part.ids))
    return record


def kept_gan_evaluation(gan_history: Any) -> dict[str, float]:
    """The fold's GAN at its kept step: how well its samples carried their labels (facts of the GAN arm)."""
    if not isinstance(gan_history, pd.DataFrame) or gan_history.empty or "is_best" not in gan_history:
        return {}  # none, or the flow-matching generator's history: it keeps its last step, selected by nothing
    kept = gan_history[gan_history["is_best"].astype(bool)].iloc[0]
    return {"gan_step": int(kept["step"]), "gan_conditioning_ccc_valence": float(kept["conditioning_ccc_valence"]),
            "gan_conditioning_ccc_arousal": float(kept["conditioning_ccc_arousal"])}


def reader_facts(reading: dict[str, Any] | None) -> dict[str, Any]:
    """The independent reader's check of the fold's generator as flat facts of a record (per target: its CCC on
    the samples, on real held-out songs, and whether the samples carry it); none for an arm without samples."""
    if not reading:
        return {}
    facts: dict[str, Any] = {}
    for target in TARGETS:
        facts[f"gan_reader_ccc_{target}"] = float(reading[target]["conditioning_ccc"])
        facts[f"gan_reader_real_ccc_{target}"] = float(reading[target]["real_ccc"])
        facts[f"gan_reader_carried_{target}"] = bool(reading[target]["carried"])
    return facts


def save_model(model: nn.Module, folder: Any) -> None:
    """`save_pretrained` into a temporary sibling, then rename: a half-written folder is never taken for a model."""
    temporary = folder.with_name(folder.name + ".partial")
    shutil.rmtree(temporary, ignore_errors=True)
    model.save_pretrained(temporary)
    shutil.rmtree(folder, ignore_errors=True)
    temporary.rename(folder)

