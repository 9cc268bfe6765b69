"""Resume: the experiment's plan of (seed, fold, arm) results, the guard that skips recorded fits, and the node
that scores one arm and records it the moment it is done.

Why not Kedro's `--only-missing-outputs` or `--from-nodes`: both decide by dataset *name*, and a unit's outputs
have the same names whatever the settings, so a changed arm, fold count or input set would silently reuse stale
results; and a unit's models are memory datasets (105 ViT-B/16 copies would be 36 GB), which Kedro always
recomputes. Here every result is keyed by its content (`study.unit_records`), the pipeline stays one static
DAG for every runner (Sequential, Parallel, Dask), and a recorded arm's nodes still run but return at once.
"""

from __future__ import annotations

import inspect
import logging
import shutil
from collections.abc import Callable
from typing import Any

import pandas as pd
from kedro.pipeline import Node
from torch import nn

from music_emotion.data import TARGETS
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.pipelines.experiment.folds import fold_splits, unit_name
from music_emotion.study.arms import parse_arms
from music_emotion.study.evaluation import prediction_frame, score_arms
from music_emotion.study.unit_records import (
    Recorded,
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


class UnlessRecorded:
    """A fitting node's function that returns `Recorded` instead of fitting when every arm it feeds has a record.

    Takes the plan as its first argument; otherwise named, documented and signed like `func` (see BoundFunction)."""

    def __init__(self, func: Callable[..., Any], unit: str, arms: tuple[str, ...], n_outputs: int) -> None:
        self.func, self.unit, self.arms, self.n_outputs = func, unit, arms, n_outputs
        self.__name__, self.__qualname__ = func.__name__, func.__qualname__
        self.__module__, self.__doc__ = func.__module__, func.__doc__
        plan = inspect.Parameter(PLAN, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=dict)
        signature = inspect.signature(func)
        self.__signature__ = signature.replace(parameters=[plan, *signature.parameters.values()])
        self.__annotations__ = {PLAN: dict, **getattr(func, "__annotations__", {})}
        self.__wrapped__ = getattr(func, "__wrapped__", func)

    def __call__(self, experiment_plan: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if all(experiment_plan["units"][self.unit][arm]["done"] for arm in self.arms):
            skipped = Recorded(self.unit, self.arms)
            return skipped if self.n_outputs == 1 else (skipped,) * self.n_outputs
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"UnlessRecorded({self.func!r}, {self.unit}, {self.arms})"


def guarded_node(func: Callable[..., Any], *, inputs: Any, outputs: str | list[str], name: str, unit: str,
                 arms: tuple[str, ...]) -> Node:
    """`Node(func, inputs, outputs, name)` that skips its work when every arm in `arms` of `unit` is recorded."""
    n_outputs = 1 if isinstance(outputs, str) else len(outputs)
    if isinstance(inputs, dict):
        inputs = {PLAN: PLAN, **inputs}
    else:
        inputs = [PLAN, *([inputs] if isinstance(inputs, str) else inputs)]
    return Node(UnlessRecorded(func, unit, arms, n_outputs), inputs=inputs, outputs=outputs, name=name)


def evaluate_arm(
    experiment_plan: dict[str, Any],
    store: UnitRecordStore,
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    params: dict[str, Any],
    seed: int,
    device: str,
    model: Any,
    history: pd.DataFrame | Recorded | None = None,
    gan_history: pd.DataFrame | Recorded | None = None,
    ast_features: SpectrogramSet | None = None,
    *,
    unit: str,
    arm: str,
) -> UnitRecord:
    """One arm's predictions for this fold's test songs and its training facts, recorded the moment they exist
    (or read back when the plan says an earlier run recorded them). The model is released right after, so a unit
    holds one fitted model at a time, not all of its arms'."""
    entry = experiment_plan["units"][unit][arm]
    if entry["done"]:
        record = store.find(unit, arm, entry["key"], entry["material"])
        if record is None:
            raise FileNotFoundError(f"experiment: the record of {arm} in {unit} ({entry['key']}) was listed at the "
                                    f"start of the run but is gone from {store.path}; re-run to retrain it")
        return record
    ((_, _, part, y_pred),) = score_arms({arm: model}, mel_spectrograms, ast_features, emotion_labels, song_splits,
                                         params, device)
    columns = ["song_id", "fold", "seed", "arm", *(f"{t}_{s}" for s in ("true", "pred") for t in TARGETS)]
    predictions = (prediction_frame(part, arm, y_pred).assign(fold=song_splits["fold"], seed=seed)
                   .rename(columns={"model": "arm"})[columns])
    has_history = isinstance(history, pd.DataFrame)
    facts = {"arm": arm, "fold": song_splits["fold"], "seed": seed,
             "epochs": len(history) if has_history else 0,
             "steps": int(history["step"].iloc[-1]) if has_history else 0,
             "seconds": float(history["seconds"].iloc[-1]) if has_history else float("nan"),
             "n_train_songs": len(song_splits["train"]), "n_test_songs": len(part.ids),
             **kept_gan_evaluation(gan_history)}
    record = UnitRecord(unit, arm, entry["key"], predictions, facts)
    if experiment_plan["keep_models"] and isinstance(model, nn.Module):
        _save_model(model, store.model_folder(unit, arm, entry["key"]))
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

