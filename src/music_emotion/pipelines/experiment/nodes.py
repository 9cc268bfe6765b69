"""`experiment` nodes: song-level folds x seeds, one evaluation per fold, and the paired comparison.

Everything fitted inside a fold (the GAN, normalisation statistics, ridge, every ViT) is fitted by the
`vit_training` / `gan_augmentation` node functions themselves on that fold's `song_splits`; the nodes
here only make the folds, collect predictions and compare arms.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from music_emotion import metrics
from music_emotion.corpus import Corpus
from music_emotion.pipelines.experiment.statistics import (
    corrected_resampled_t_test,
    paired_bootstrap_ci,
)
from music_emotion.pipelines.vit_training.evaluation import (
    predict_part,
    prediction_frame,
    test_part_for,
)
from music_emotion.spectrograms import SpectrogramSet
from music_emotion.splits import SPLITS, deal_by_stratum, song_strata

logger = logging.getLogger(__name__)

TARGETS = metrics.TARGETS
FOLD_COLUMNS = ["song_id", "seed_index", "seed", "fold", "part"]


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
    for size, parameter in ((vit_batch_size, "vit_training.training.batch_size"),
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
                sorted(table[(table.part == "test") & (table.seed_index == 0)].groupby("fold").size().unique().tolist()))
    return table


def experiment_parameters(
    vit_training: dict[str, Any], gan_augmentation: dict[str, Any], params: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`vit_training` and `gan_augmentation` with `experiment.overrides` applied (e.g. a shorter demo budget):
    every fold and arm of the experiment trains with the same, visible settings."""
    overrides = params.get("overrides") or {}
    unknown = sorted(set(overrides) - {"vit_training", "gan_augmentation"})
    if unknown:
        raise ValueError(f"experiment.overrides may hold vit_training and gan_augmentation only, not {unknown}")
    return (_deep_merge(vit_training, overrides.get("vit_training") or {}, "vit_training"),
            _deep_merge(gan_augmentation, overrides.get("gan_augmentation") or {}, "gan_augmentation"))


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
    for key, model in fitted.items():
        if not key.startswith("model__"):
            continue
        arm = key.removeprefix("model__")
        features, part = test_part_for(model, mel_spectrograms, ast_features, emotion_labels, song_splits)
        frame = prediction_frame(part, arm, predict_part(model, features, part, params, device))
        frames.append(frame.assign(fold=song_splits["fold"], seed=seed))
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


def compare_arms(
    predictions: pd.DataFrame, per_unit: pd.DataFrame, facts: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """Each arm minus the reference arm, per target and metric: mean paired difference over folds x seeds,
    95 % paired-bootstrap CI over songs, corrected resampled t-test p-value."""
    reference = params["reference_arm"]
    units = per_unit[per_unit.fold != "pooled"]
    ratio = float((facts["n_test_songs"] / facts["n_train_songs"]).mean())
    ordered = predictions.sort_values(["seed", "song_id"])
    by_arm = {arm: group for arm, group in ordered.groupby("arm")}
    rows = []
    for arm in sorted(set(predictions["arm"]) - {reference}):
        for target in TARGETS:
            for name, fn in metrics.METRICS.items():
                mine = units[(units.arm == arm) & (units.target == target) & (units.metric == name)]
                ref = units[(units.arm == reference) & (units.target == target) & (units.metric == name)]
                paired = mine.merge(ref, on=["seed", "fold"], suffixes=("", "_ref"))
                differences = (paired["value"] - paired["value_ref"]).to_numpy()
                t, p = corrected_resampled_t_test(differences, ratio)
                seeds = sorted(set(ordered["seed"]))
                truth = [by_arm[arm].loc[by_arm[arm].seed == s, f"{target}_true"].to_numpy() for s in seeds]
                low, high = paired_bootstrap_ci(
                    truth,
                    [by_arm[arm].loc[by_arm[arm].seed == s, f"{target}_pred"].to_numpy() for s in seeds],
                    [by_arm[reference].loc[by_arm[reference].seed == s, f"{target}_pred"].to_numpy() for s in seeds],
                    fn, int(params["n_resamples"]), float(params["confidence"]), int(seeds[0]),
                )
                rows.append({"arm": arm, "reference": reference, "target": target, "metric": name,
                             "mean_difference": float(differences.mean()), "ci_low": low, "ci_high": high,
                             "t": t, "p_value": p, "n_units": len(differences), "higher_is_better": name not in ("rmse", "mae")})
    return pd.DataFrame(rows)


def verdict(row: pd.Series, alpha: float) -> str:
    """Plain language for one comparison row, e.g. 'gan vs real_only: valence CCC +0.030 [-0.020, 0.080],
    p = 0.31: no evidence of a difference'."""
    better = row["mean_difference"] > 0 if row["higher_is_better"] else row["mean_difference"] < 0
    excludes_zero = row["ci_low"] > 0 or row["ci_high"] < 0
    if row["p_value"] < alpha and excludes_zero:
        conclusion = "evidence of a gain" if better else "evidence of a loss"
    else:
        conclusion = "no evidence of a difference"
    return (f"{row['arm']} vs {row['reference']}: {row['target']} {row['metric'].upper()} "
            f"{row['mean_difference']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}], p = {row['p_value']:.2g}"
            f" — {conclusion}")


def summarise_experiment(
    experiment_comparison: pd.DataFrame, experiment_metrics: pd.DataFrame, params: dict[str, Any]
) -> str:
    """Markdown: pooled out-of-fold CCC per arm and seed, and a verdict per arm and target (CCC)."""
    alpha = 1 - float(params["confidence"])
    pooled = experiment_metrics[(experiment_metrics.fold == "pooled") & (experiment_metrics.metric == "ccc")]
    table = pooled.pivot_table(index="arm", columns="target", values="value", aggfunc="mean")
    per_fold = experiment_metrics[(experiment_metrics.fold != "pooled") & (experiment_metrics.metric == "ccc")]
    spread = per_fold.groupby(["arm", "target"])["value"].agg(["mean", "std"])
    lines = ["# Experiment: does each arm beat the reference?", "",
             f"{int(per_fold['fold'].nunique())} folds x {int(per_fold['seed'].nunique())} seed(s); every arm trained and "
             "tested on the same songs. Pooled = CCC of all out-of-fold predictions of a seed (averaged over seeds), "
             "comparable to published DEAM k-fold results; per fold = mean ± std over folds x seeds.", "",
             "| arm | valence CCC pooled | valence CCC per fold | arousal CCC pooled | arousal CCC per fold |",
             "|---|---|---|---|---|"]
    for arm in table.index:
        cells = [f"{table.loc[arm, t]:.3f} | {spread.loc[(arm, t), 'mean']:.3f} ± {spread.loc[(arm, t), 'std']:.3f}"
                 for t in TARGETS]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    if "gan_conditioning_ccc_valence" in experiment_metrics:
        gan = experiment_metrics.drop_duplicates(["seed", "fold"]).dropna(subset=["gan_conditioning_ccc_valence"])
        if not gan.empty:
            lines += ["", f"The folds' GANs (kept steps {sorted(gan['gan_step'].astype(int).unique().tolist())}) carried their "
                      f"labels with conditioning CCC valence {gan['gan_conditioning_ccc_valence'].mean():.2f} "
                      f"(min {gan['gan_conditioning_ccc_valence'].min():.2f}), arousal "
                      f"{gan['gan_conditioning_ccc_arousal'].mean():.2f} (min {gan['gan_conditioning_ccc_arousal'].min():.2f})."]
    lines += ["", "## Verdicts (CCC; 95 % paired-bootstrap CI over songs; corrected resampled t-test)", ""]
    ccc_rows = experiment_comparison[experiment_comparison.metric == "ccc"]
    lines += [f"- {verdict(row, alpha)}" for _, row in ccc_rows.iterrows()]
    return "\n".join(lines) + "\n"
