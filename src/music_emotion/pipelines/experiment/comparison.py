"""Every arm against the reference arm: paired differences, their CIs and tests, and the verdicts in words."""

from __future__ import annotations

from typing import Any

import pandas as pd

from music_emotion.data import TARGETS
from music_emotion.study import metrics
from music_emotion.study.statistics import (
    corrected_resampled_t_test,
    paired_bootstrap_ci,
)


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
