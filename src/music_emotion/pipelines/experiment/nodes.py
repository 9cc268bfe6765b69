"""Nodes of `experiment`: the plan of every (seed, fold, arm) result, the nodes that fit, score and record an arm
(or read its record back: `resume.py` says why one node does all three), and the aggregation of every record into
predictions, metrics and the paired comparison.

Everything fitted inside a fold (the GAN, normalisation statistics, ridge, every ViT) is fitted by the same
functions as the single-split run (`study.arm_fitting`, `gan.fitting`) on that fold's `song_splits`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from music_emotion.data import TARGETS
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.diffusion.fitting import train_diffusion
from music_emotion.gan.fitting import generate_synthetic_spectrograms, train_gan
from music_emotion.gan.reader import ReaderParams, independent_reading
from music_emotion.pipelines.experiment.resume import recorded, save_model, score_and_record
from music_emotion.report.comparison import compare_arms
from music_emotion.study import metrics
from music_emotion.study.arm_fitting import fit_mean_baseline, fit_ridge_baseline, train_arm
from music_emotion.study.arms import parse_arms
from music_emotion.study.folds import fold_splits, unit_name
from music_emotion.study.probe import fit_embedding_probe
from music_emotion.study.unit_records import (
    UnitRecord,
    UnitRecordStore,
    arm_dependencies,
    content_fingerprint,
    record_key,
    record_material,
)

logger = logging.getLogger(__name__)


def _fit_gan(*args: Any) -> tuple[Any, pd.DataFrame]:
    generator, _, history = train_gan(*args)
    return generator, history


# How each generator family is fitted on a fold's TRAIN songs: (network with `sample_into`, its training history).
FIT_GENERATOR = {"gan": _fit_gan, "diffusion": train_diffusion}


def plan_experiment(
    experiment_folds: pd.DataFrame,
    training: dict[str, Any],
    generators: dict[str, dict[str, Any]],
    arm_specs: dict[str, Any],
    ridge: dict[str, Any],
    generation: dict[str, Any],
    params: dict[str, Any],
    store: UnitRecordStore,
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    *,
    arms: tuple[str, ...],
    **feature_sets: SpectrogramSet,
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
    fingerprints.update({name: content_fingerprint(features) for name, features in feature_sets.items()})
    units: dict[str, dict[str, Any]] = {}
    for seed_index, fold in sorted(set(zip(experiment_folds.seed_index, experiment_folds.fold, strict=True))):
        splits, seed = fold_splits(experiment_folds, int(seed_index), int(fold))
        unit = unit_name(int(seed_index), int(fold))
        units[unit] = {}
        for name, arm in parsed.items():
            inputs = {k: v for k, v in fingerprints.items() if k in ("emotion_labels", arm.features)}
            dependencies = arm_dependencies(arm, arm_specs[name] or {}, training, ridge, generators, generation)
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
    arm_spec: dict[str, Any],
    seed: int,
    device: str,
    readout: dict[str, Any] | None = None,
    *,
    unit: str,
    arm: str,
) -> UnitRecord:
    """Fit one arm on this fold's songs of its own feature set (`features`: log-mel, AST filter banks or song
    embeddings) with the single-split run's node function (`readout`: a read-out's parameters, the ridge
    baseline's or the embedding probe's), score it on the fold's test songs
    and record it, in one node: the record exists the moment the fit does, and the model is gone when the node
    returns, so under any runner's ordering no model waits between nodes. Read back when already recorded."""
    entry = experiment_plan["units"][unit][arm]
    if entry["done"]:
        return recorded(store, unit, arm, entry)
    kind = arm_spec["model"]
    if kind == "mean_baseline":
        model, history = fit_mean_baseline(emotion_labels, song_splits), None
    elif kind == "ridge_baseline":
        model, history = fit_ridge_baseline(features, emotion_labels, song_splits, readout), None
    elif kind == "embedding":
        model, history = fit_embedding_probe(features, emotion_labels, song_splits, readout, arm_spec, seed), None
    else:
        model, history = train_arm(features, emotion_labels, song_splits, arm_spec, training, seed, device, arm)
    return score_and_record(experiment_plan, store, unit, arm, model, history, None, features, emotion_labels,
                             song_splits, training, seed, device)


def fit_generator_and_record_arms(
    experiment_plan: dict[str, Any],
    store: UnitRecordStore,
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: dict[str, Any],
    training: dict[str, Any],
    generators: dict[str, dict[str, Any]],
    generation: dict[str, Any],
    arm_specs: dict[str, Any],
    seed: int,
    device: str,
    *,
    unit: str,
    generator: str,
    arms: tuple[str, ...],
) -> tuple[UnitRecord, ...]:
    """The fold's `generator` (gan or diffusion), its synthetic windows, and every arm with `synthetic: <generator>`
    trained on them, scored and recorded, in one node: the generator is trained only when one of its arms has no
    record, and its samples (a memory map) and weights live only while this node runs. The samples are read by the
    same independent reader for either family (`gan_augmentation.quality.reader`)."""
    entries = {arm: experiment_plan["units"][unit][arm] for arm in arms}
    if all(entry["done"] for entry in entries.values()):
        return tuple(recorded(store, unit, arm, entries[arm]) for arm in arms)
    network, generator_history = FIT_GENERATOR[generator](mel_spectrograms, emotion_labels, song_splits,
                                                          generators[generator], seed, device)
    synthetic, synthetic_labels = generate_synthetic_spectrograms(network, emotion_labels, song_splits, generation,
                                                                  seed, device)
    if experiment_plan["keep_models"]:
        save_model(network, store.model_folder(unit, f"{generator}_generator", entries[arms[0]]["key"]))
    asked = synthetic_labels.set_index("sample_id").loc[synthetic.ids, list(TARGETS)].to_numpy(dtype=np.float64)
    reading = independent_reading(mel_spectrograms, emotion_labels, song_splits, synthetic.values, asked,
                                  ReaderParams.from_params(generators["gan"]["quality"]["reader"]), seed)
    records = []
    for arm in arms:
        if entries[arm]["done"]:
            records.append(recorded(store, unit, arm, entries[arm]))
            continue
        model, history = train_arm(mel_spectrograms, emotion_labels, song_splits, arm_specs[arm], training, seed,
                                   device, arm, synthetic, synthetic_labels)
        records.append(score_and_record(experiment_plan, store, unit, arm, model, history, generator_history,
                                         mel_spectrograms, emotion_labels, song_splits, training, seed, device,
                                         reading))
    return tuple(records)


def aggregate_experiment(params: dict[str, Any],
                         **records: UnitRecord) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(experiment_predictions, experiment_metrics, experiment_comparison) from every (seed, fold, arm) record,
    in a fixed order (seed, fold, arm), so a resumed run aggregates exactly as an uninterrupted one.

    Metrics per fold x seed x arm and, per seed, pooled over all out-of-fold predictions (`fold` = pooled:
    the number comparable to published DEAM k-fold results). The comparison: every arm minus the reference
    arm, per target and metric, with a paired bootstrap CI over songs and the corrected resampled t-test.
    """
    ordered = [records[k] for k in sorted(records)]
    predictions = pd.concat([r.predictions for r in ordered], ignore_index=True)
    facts = pd.DataFrame([r.facts for r in ordered])
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


