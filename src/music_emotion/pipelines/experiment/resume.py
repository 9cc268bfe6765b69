"""Resume: the experiment's plan of (seed, fold, arm) results, and the nodes that fit, score and record an arm
in one step (or read its record back).

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
from music_emotion.gan.fitting import generate_synthetic_spectrograms, train_gan
from music_emotion.pipelines.experiment.folds import fold_splits, unit_name
from music_emotion.study.arm_fitting import fit_mean_baseline, fit_ridge_baseline, train_arm
from music_emotion.study.arms import parse_arms
from music_emotion.study.evaluation import prediction_frame, score_arms
from music_emotion.study.unit_records import (
    UnitRecord,
    UnitRecordStore,
    arm_dependencies,
    content_fingerprint,
    record_key,
    record_material,
)

logger = logging.getLogger(__name__)
PLAN = "experiment_plan"
STORE = "experiment_unit_records"


def plan_experiment(
    experiment_folds: pd.DataFrame,
    training: dict[str, Any],
    gan_augmentation: dict[str, Any],
    arm_specs: dict[str, Any],
    ridge: dict[str, Any],
    generation: dict[str, Any],
    params: dict[str, Any],
    store: UnitRecordStore,
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    ast_features: SpectrogramSet | None = None,
    *,
    arms: tuple[str, ...],
) -> dict[str, Any]:
    """Every (seed, fold, arm) of the run with its record key, and whether a record of it already exists.

    Logged once at the start: how many results are recorded and how many remain, so a re-run after a crash says
    what it will redo. `experiment.resume: false` retrains everything (records are then rewritten in place: a key
    names one result, so the new record replaces an equal one)."""
    parsed = parse_arms(arm_specs, list(arms), "experiment.arms")
    store.remove_stale_temporaries()
    fingerprints = {"emotion_labels": content_fingerprint(emotion_labels.sort_values("song_id", kind="stable")
                                                          .reset_index(drop=True)),
                    "mel_spectrograms": content_fingerprint(mel_spectrograms)}
    if ast_features is not None:
        fingerprints["ast_features"] = content_fingerprint(ast_features)
    units: dict[str, dict[str, Any]] = {}
    for seed_index, fold in sorted(set(zip(experiment_folds.seed_index, experiment_folds.fold, strict=True))):
        splits, seed = fold_splits(experiment_folds, int(seed_index), int(fold))
        unit = unit_name(int(seed_index), int(fold))
        units[unit] = {}
        for name, arm in parsed.items():
            inputs = {k: v for k, v in fingerprints.items() if k in ("emotion_labels", arm.features)}
            dependencies = arm_dependencies(arm, arm_specs[name] or {}, training, ridge, gan_augmentation, generation)
            material = record_material(splits, seed, dependencies, inputs)
            key = record_key(material)
            done = bool(params["resume"]) and store.find(unit, name, key, material) is not None
            units[unit][name] = {"key": key, "material": material, "done": done}
    total = sum(len(arms) for arms in units.values())
    recorded = sum(entry["done"] for arms in units.values() for entry in arms.values())
    if not params["resume"]:
        logger.info("experiment: %d (seed, fold, arm) results to train; experiment.resume is false, so results "
                    "recorded in %s are not read", total, store.path)
    else:
        logger.info("experiment: %d (seed, fold, arm) results, %d already recorded in %s, %d to train", total,
                    recorded, store.path, total - recorded)
    return {"units": units, "keep_models": bool(params["keep_models"]), "total": total, "recorded": recorded}


def fit_and_record_arm(
    experiment_plan: dict[str, Any],
    store: UnitRecordStore,
    features: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    training: dict[str, Any],
    ridge: dict[str, Any],
    arm_spec: dict[str, Any],
    seed: int,
    device: str,
    *,
    unit: str,
    arm: str,
) -> UnitRecord:
    """Fit one arm on this fold's songs of its own feature set (`features`: log-mel, or AST filter banks) with the
    single-split run's node function, score it on the fold's test songs
    and record it, in one node: the record exists the moment the fit does, and the model is gone when the node
    returns, so under any runner's ordering no model waits between nodes. Read back when already recorded."""
    entry = experiment_plan["units"][unit][arm]
    if entry["done"]:
        return _recorded(store, unit, arm, entry)
    kind = arm_spec["model"]
    if kind == "mean_baseline":
        model, history = fit_mean_baseline(emotion_labels, song_splits), None
    elif kind == "ridge_baseline":
        model, history = fit_ridge_baseline(features, emotion_labels, song_splits, ridge), None
    else:
        model, history = train_arm(features, emotion_labels, song_splits, arm_spec, training, seed, device, arm)
    return _score_and_record(experiment_plan, store, unit, arm, model, history, None, features, emotion_labels,
                             song_splits, training, seed, device)


def fit_gan_and_record_arms(
    experiment_plan: dict[str, Any],
    store: UnitRecordStore,
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    training: dict[str, Any],
    gan_augmentation: dict[str, Any],
    generation: dict[str, Any],
    arm_specs: dict[str, Any],
    seed: int,
    device: str,
    *,
    unit: str,
    arms: tuple[str, ...],
) -> tuple[UnitRecord, ...]:
    """The fold's GAN, its synthetic windows, and every `synthetic: true` arm trained on them, scored and recorded,
    in one node: the GAN is trained only when one of its arms has no record, and its samples (a memory map) and
    weights live only while this node runs."""
    entries = {arm: experiment_plan["units"][unit][arm] for arm in arms}
    if all(entry["done"] for entry in entries.values()):
        return tuple(_recorded(store, unit, arm, entries[arm]) for arm in arms)
    generator, _, gan_history = train_gan(mel_spectrograms, emotion_labels, song_splits, gan_augmentation, seed, device)
    synthetic, synthetic_labels = generate_synthetic_spectrograms(generator, emotion_labels, song_splits, generation,
                                                                  seed, device)
    if experiment_plan["keep_models"]:
        _save_model(generator, store.model_folder(unit, "gan_generator", entries[arms[0]]["key"]))
    records = []
    for arm in arms:
        if entries[arm]["done"]:
            records.append(_recorded(store, unit, arm, entries[arm]))
            continue
        model, history = train_arm(mel_spectrograms, emotion_labels, song_splits, arm_specs[arm], training, seed,
                                   device, arm, synthetic, synthetic_labels)
        records.append(_score_and_record(experiment_plan, store, unit, arm, model, history, gan_history,
                                         mel_spectrograms, emotion_labels, song_splits, training, seed, device))
    return tuple(records)


def _recorded(store: UnitRecordStore, unit: str, arm: str, entry: dict[str, Any]) -> UnitRecord:
    record = store.find(unit, arm, entry["key"], entry["material"])
    if record is None:
        raise FileNotFoundError(f"experiment: the record of {arm} in {unit} ({entry['key']}) was listed at the "
                                f"start of the run but is gone from {store.path}; re-run to retrain it")
    return record


def _score_and_record(
    experiment_plan: dict[str, Any], store: UnitRecordStore, unit: str, arm: str, model: Any,
    history: pd.DataFrame | None, gan_history: pd.DataFrame | None, features: SpectrogramSet,
    emotion_labels: pd.DataFrame, song_splits: dict[str, Any], training: dict[str, Any], seed: int, device: str,
) -> UnitRecord:
    """The arm's predictions for the fold's test songs (read from the feature set it was trained on) and its
    training facts, written before the node returns."""
    entry = experiment_plan["units"][unit][arm]
    ((_, _, part, y_pred),) = score_arms({arm: model}, features, features, emotion_labels, song_splits, training,
                                         device)
    columns = ["song_id", "fold", "seed", "arm", *(f"{t}_{s}" for s in ("true", "pred") for t in TARGETS)]
    predictions = (prediction_frame(part, arm, y_pred).assign(fold=song_splits["fold"], seed=seed)
                   .rename(columns={"model": "arm"})[columns])
    facts = {"arm": arm, "fold": song_splits["fold"], "seed": seed,
             "epochs": len(history) if history is not None else 0,
             "steps": int(history["step"].iloc[-1]) if history is not None else 0,
             "seconds": float(history["seconds"].iloc[-1]) if history is not None else float("nan"),
             "n_train_songs": len(song_splits["train"]), "n_test_songs": len(part.ids),
             **kept_gan_evaluation(gan_history)}
    record = UnitRecord(unit, arm, entry["key"], predictions, facts)
    if experiment_plan["keep_models"]:
        folder = store.model_folder(unit, arm, entry["key"])
        if isinstance(model, nn.Module):
            _save_model(model, folder)
        else:  # a baseline is a few numbers
            store.save_baseline(folder, model)
    store.save(record, entry["material"])
    logger.info("experiment: %s %s recorded (%d test songs)", unit, arm, len(part.ids))
    return record


def kept_gan_evaluation(gan_history: Any) -> dict[str, float]:
    """The fold's GAN at its kept step: how well its samples carried their labels (facts of the GAN arm)."""
    if not isinstance(gan_history, pd.DataFrame) or gan_history.empty:
        return {}
    kept = gan_history[gan_history["is_best"].astype(bool)].iloc[0]
    return {"gan_step": int(kept["step"]), "gan_conditioning_ccc_valence": float(kept["conditioning_ccc_valence"]),
            "gan_conditioning_ccc_arousal": float(kept["conditioning_ccc_arousal"])}


def _save_model(model: nn.Module, folder: Any) -> None:
    """`save_pretrained` into a temporary sibling, then rename: a half-written folder is never taken for a model."""
    temporary = folder.with_name(folder.name + ".partial")
    shutil.rmtree(temporary, ignore_errors=True)
    model.save_pretrained(temporary)
    shutil.rmtree(folder, ignore_errors=True)
    temporary.rename(folder)

