"""The experiment's units: song-level folds per seed (stratified by quadrant, the same for every arm), and the
parameters every unit trains with (the single-split ones with `experiment.overrides` merged in)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.data.splits import SPLITS, deal_by_stratum, song_strata

logger = logging.getLogger(__name__)


FOLD_COLUMNS = ["song_id", "seed_index", "seed", "fold", "part"]


def unit_name(seed_index: int, fold: int) -> str:
    """The namespace of one fold x seed unit: `seed<s>_fold<f>`."""
    return f"seed{seed_index}_fold{fold}"


def assign_folds(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    params: dict[str, Any],
    seed: int,
    vit_batch_size: int,
    gan_batch_size: int,
) -> pd.DataFrame:
    """Every song with audio and a label in exactly one test fold per seed (stratified as `song_splits`), and
    inside each fold a val part of the remaining songs for model selection. One row per song x seed x fold."""
    k, n_seeds, val_fraction = int(params["n_folds"]), int(params["n_seeds"]), float(params["val_fraction"])
    if k < 2 or n_seeds < 1 or not 0 < val_fraction < 1:
        raise ValueError("experiment: n_folds must be >= 2, n_seeds >= 1 and val_fraction in (0, 1)")
    labels = emotion_labels.drop_duplicates("song_id").set_index("song_id")
    labels = labels.loc[labels.index.isin(mel_spectrograms.ids)].sort_index()
    strata = song_strata(labels, params["stratify"], "experiment.stratify")
    smallest = min(np.bincount(strata)[np.unique(strata)])
    if k > smallest:
        raise ValueError(
            f"experiment.n_folds = {k} is larger than the {smallest} song(s) of the smallest valence/arousal quadrant: "
            "some fold would miss that quadrant. Lower experiment.n_folds or set experiment.stratify: none"
        )
    n_train = int((len(labels) - len(labels) / k) * (1 - val_fraction))
    for size, parameter in ((vit_batch_size, "training.optimisation.batch_size"),
                            (gan_batch_size, "gan_augmentation.training.batch_size")):
        if n_train < size:
            raise ValueError(f"a fold's train part has about {n_train} songs, fewer than one batch ({parameter} = "
                             f"{size}); lower the batch size or experiment.n_folds / val_fraction")
    rows = []
    ids = labels.index.to_numpy()
    for seed_index in range(n_seeds):
        run_seed = int(seed) + seed_index
        rng = np.random.default_rng(run_seed)
        folds = deal_by_stratum(ids, strata, {f: 1.0 / k for f in range(k)}, rng)
        for fold, test_ids in folds.items():
            rest = np.setdiff1d(ids, test_ids)
            rest_strata = strata[np.isin(ids, rest)]
            parts = deal_by_stratum(rest, rest_strata, {"train": 1 - val_fraction, "val": val_fraction}, rng)
            for part, members in (("test", test_ids), *parts.items()):
                rows += [{"song_id": int(i), "seed_index": seed_index, "seed": run_seed, "fold": fold, "part": part}
                         for i in members]
    table = pd.DataFrame(rows, columns=FOLD_COLUMNS)
    logger.info("Experiment: %d songs, %d folds x %d seed(s); test folds of %s songs", len(ids), k, n_seeds,
                sorted(table[(table.part == "test") & (table.seed_index == 0)]
                       .groupby("fold").size().unique().tolist()))
    return table


def experiment_parameters(
    training: dict[str, Any], gan_augmentation: dict[str, Any], diffusion_augmentation: dict[str, Any],
    params: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """`training` and each generator's section (as {family: section}) with `experiment.overrides` applied (e.g. a
    shorter demo budget): every fold and arm of the experiment trains with the same, visible settings."""
    overrides = params.get("overrides") or {}
    sections = {"gan": gan_augmentation, "diffusion": diffusion_augmentation}
    allowed = ["training", *(f"{family}_augmentation" for family in sections)]
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ValueError(f"experiment.overrides may hold {', '.join(allowed)} only, not {unknown}")
    generators = {family: _deep_merge(section, overrides.get(f"{family}_augmentation") or {},
                                      f"{family}_augmentation") for family, section in sections.items()}
    return _deep_merge(training, overrides.get("training") or {}, "training"), generators


def _deep_merge(base: dict[str, Any], override: dict[str, Any], path: str) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if key not in base:
            raise ValueError(f"experiment.overrides.{path}.{key}: {path} has no key {key!r}")
        merged[key] = _deep_merge(base[key], value, f"{path}.{key}") if isinstance(value, dict) and isinstance(
            base[key], dict) else value
    return merged


def fold_splits(experiment_folds: pd.DataFrame, seed_index: int, fold: int) -> tuple[dict[str, Any], int]:
    """The `song_splits` mapping and the seed of one fold x seed unit."""
    unit = experiment_folds[(experiment_folds.seed_index == seed_index) & (experiment_folds.fold == fold)]
    if unit.empty:
        raise ValueError(f"experiment_folds has no fold {fold} for seed index {seed_index}; re-run assign_folds")
    splits = {part: sorted(unit.loc[unit.part == part, "song_id"].tolist()) for part in SPLITS}
    return {**splits, "fold": int(fold), "seed_index": int(seed_index)}, int(unit["seed"].iloc[0])
