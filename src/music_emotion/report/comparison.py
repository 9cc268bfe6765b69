"""Every arm against the reference arm: paired differences, their CIs and tests, and the verdicts in words."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from music_emotion.data import TARGETS
from music_emotion.report.tables import format_number
from music_emotion.study import metrics
from music_emotion.study.statistics import (
    corrected_resampled_t_test,
    holm,
    paired_bootstrap_ci,
)


def compare_arms(
    predictions: pd.DataFrame, per_unit: pd.DataFrame, facts: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """Each arm minus the reference arm, per target and metric.

    The claim is about the pooled out-of-fold difference: `difference` = metric(arm) - metric(reference) on all
    songs' out-of-fold predictions of a seed, averaged over seeds; `ci_low`/`ci_high` = the paired bootstrap over
    songs of that same quantity; `seed_min`/`seed_max` = its range over seeds. The test is the corrected resampled
    t-test on the per-unit (fold x seed) differences (`mean_unit_difference`, `t`, `p_value`); `p_holm` adjusts
    `p_value` over arms x targets of one metric (Holm), the family a reader scans for a win.
    """
    reference = params["reference_arm"]
    units = per_unit[per_unit.fold != "pooled"]
    ratio = float((facts["n_test_songs"] / facts["n_train_songs"]).mean())
    ordered = predictions.sort_values(["seed", "song_id"])
    by_arm = {arm: group for arm, group in ordered.groupby("arm")}
    seeds = sorted(set(ordered["seed"]))

    def per_seed(arm: str, column: str) -> list:
        return [by_arm[arm].loc[by_arm[arm].seed == s, column].to_numpy() for s in seeds]

    rows = []
    for arm in sorted(set(predictions["arm"]) - {reference}):
        for target in TARGETS:
            truth, mine, theirs = (per_seed(arm, f"{target}_true"), per_seed(arm, f"{target}_pred"),
                                   per_seed(reference, f"{target}_pred"))
            for name, fn in metrics.METRICS.items():
                mine_units = units[(units.arm == arm) & (units.target == target) & (units.metric == name)]
                ref_units = units[(units.arm == reference) & (units.target == target) & (units.metric == name)]
                paired = mine_units.merge(ref_units, on=["seed", "fold"], suffixes=("", "_ref"))
                differences = (paired["value"] - paired["value_ref"]).to_numpy()
                t, p = corrected_resampled_t_test(differences, ratio)
                by_seed = np.array([fn(y, a) - fn(y, r) for y, a, r in zip(truth, mine, theirs, strict=True)])
                low, high = paired_bootstrap_ci(truth, mine, theirs, fn, int(params["n_resamples"]),
                                                float(params["confidence"]), int(seeds[0]))
                rows.append({"arm": arm, "reference": reference, "target": target, "metric": name,
                             "difference": float(by_seed.mean()), "ci_low": low, "ci_high": high,
                             "seed_min": float(by_seed.min()), "seed_max": float(by_seed.max()),
                             "n_seeds": len(seeds), "mean_unit_difference": float(differences.mean()),
                             "t": t, "p_value": p, "n_units": len(differences),
                             "higher_is_better": name not in ("rmse", "mae")})
    table = pd.DataFrame(rows)
    if not table.empty:
        table["p_holm"] = table.groupby("metric")["p_value"].transform(lambda p: holm(p.to_numpy()))
    return table


def generator_failures(experiment_metrics: pd.DataFrame) -> dict[tuple[str, str], str]:
    """{(arm, target): why} for the arms trained on generated samples whose samples, in some fold, do not carry
    the target as the independent reader reads them (the record facts `gan_reader_*`)."""
    failures: dict[tuple[str, str], str] = {}
    for target in TARGETS:
        column = f"gan_reader_carried_{target}"
        if column not in experiment_metrics:
            continue
        units = (experiment_metrics[experiment_metrics[column].notna() & (experiment_metrics.fold != "pooled")]
                 .drop_duplicates(["arm", "seed", "fold"]))
        for arm, folds in units.groupby("arm"):
            failed = folds[~folds[column].astype(bool)]
            if failed.empty:
                continue
            worst = failed.loc[failed[f"gan_reader_ccc_{target}"].idxmin()]
            failures[(arm, target)] = (
                f"inconclusive: the generator's samples do not carry {target} in {len(failed)} of {len(folds)} "
                f"fold(s) (worst: {worst[f'gan_reader_ccc_{target}']:.2f} vs "
                f"{worst[f'gan_reader_real_ccc_{target}']:.2f} on real songs, independent reader), so this measures "
                "that generator, not generative augmentation")
    return failures


def verdict(row: pd.Series, alpha: float, failure: str | None = None) -> str:
    """Plain language for one comparison row, e.g. 'gan vs real_only: valence CCC +0.030 [-0.020, 0.080]
    (seeds +0.010 to +0.050), p = 0.31, Holm p = 0.62: no evidence of a difference'. A claim needs the Holm-adjusted
    p below alpha and a CI of the difference that excludes zero; an arm whose generator failed to carry the target
    (`failure`) gets no claim either way."""
    better = row["difference"] > 0 if row["higher_is_better"] else row["difference"] < 0
    excludes_zero = row["ci_low"] > 0 or row["ci_high"] < 0
    if failure:
        conclusion = failure
    elif row["p_holm"] < alpha and excludes_zero:
        conclusion = "evidence of a gain" if better else "evidence of a loss"
    else:
        conclusion = "no evidence of a difference"
    seeds = (f" (seeds {row['seed_min']:+.3f} to {row['seed_max']:+.3f})" if row["n_seeds"] > 1 else "")
    return (f"{row['arm']} vs {row['reference']}: {row['target']} {row['metric'].upper()} "
            f"{row['difference']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]{seeds}, "
            f"p = {row['p_value']:.2g}, Holm p = {row['p_holm']:.2g} — {conclusion}")


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
             f"{int(per_fold['fold'].nunique())} folds x {int(per_fold['seed'].nunique())} seed(s); "
             "every arm trained and "
             "tested on the same songs. Pooled = CCC of all out-of-fold predictions of a seed (averaged over seeds), "
             "comparable to published DEAM k-fold results; per fold = mean ± std over folds x seeds.", "",
             "| arm | valence CCC pooled | valence CCC per fold | arousal CCC pooled | arousal CCC per fold |",
             "|---|---|---|---|---|"]
    for arm in table.index:
        cells = [f"{format_number(table.loc[arm, t], 3, False)} | "
                 f"{format_number(spread.loc[(arm, t), 'mean'], 3, False)}"
                 f" ± {format_number(spread.loc[(arm, t), 'std'], 3, False)}" for t in TARGETS]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    if "gan_conditioning_ccc_valence" in experiment_metrics:
        gan = experiment_metrics.dropna(subset=["gan_conditioning_ccc_valence"]).drop_duplicates(["seed", "fold"])
        if not gan.empty:
            lines += ["", f"The folds' GANs (kept steps {sorted(gan['gan_step'].astype(int).unique().tolist())}) "
                      "carried their "
                      f"labels with conditioning CCC valence {gan['gan_conditioning_ccc_valence'].mean():.2f} "
                      f"(min {gan['gan_conditioning_ccc_valence'].min():.2f}), arousal "
                      f"{gan['gan_conditioning_ccc_arousal'].mean():.2f} "
                      f"(min {gan['gan_conditioning_ccc_arousal'].min():.2f})."]
    if "gan_reader_ccc_valence" in experiment_metrics:
        read = (experiment_metrics[experiment_metrics.fold != "pooled"].dropna(subset=["gan_reader_ccc_valence"])
                .drop_duplicates(["arm", "seed", "fold"]))
        if not read.empty:
            per_arm = [f"{arm}'s samples " + ", ".join(
                f"{t} {folds[f'gan_reader_ccc_{t}'].mean():.2f} (min {folds[f'gan_reader_ccc_{t}'].min():.2f}) "
                f"against real songs {folds[f'gan_reader_real_ccc_{t}'].mean():.2f}" for t in TARGETS)
                for arm, folds in read.groupby("arm", sort=False)]
            lines += ["", "Read by the independent reader (never used to train or select a generator): "
                      + "; ".join(per_arm) + "."]
    lines += ["", "## Verdicts (CCC of the pooled out-of-fold predictions, arm minus reference, mean over seeds; 95 % "
              "paired-bootstrap CI over songs of that difference; its range over seeds; corrected resampled t-test "
              "over folds x seeds, raw and Holm-adjusted over arms x targets)", ""]
    ccc_rows = experiment_comparison[experiment_comparison.metric == "ccc"]
    failures = generator_failures(experiment_metrics)
    lines += [f"- {verdict(row, alpha, failures.get((row['arm'], row['target'])))}" for _, row in ccc_rows.iterrows()]
    return "\n".join(lines) + "\n"
