"""`experiment`: k song folds x n seeds, each a namespaced copy of one template, then one aggregation.

`plan_experiment` first lists every (seed, fold, arm) result with its record key and whether an earlier run
recorded it (`resume.py`). One unit (namespace `seed<s>_fold<f>`) = that fold's `song_splits` and seed -> the
fold's GAN (when an arm trains on synthetic samples) -> every arm, fitted by the same node functions as the
single-split run, then scored and recorded by its own `evaluate_arm`. Units share nothing they fit, so
`--runner ParallelRunner` or the DaskRunner runs them side by side.
Folds and seeds come from `experiment.n_folds` / `n_seeds`, arms from `experiment.arms` (null = all).
"""

from __future__ import annotations

import functools

from kedro.pipeline import Node, Pipeline

from music_emotion.framework.bound_function import BoundFunction
from music_emotion.framework.run_parameters import run_parameters
from music_emotion.gan.fitting import generate_synthetic_spectrograms, train_gan
from music_emotion.pipelines.arm_wiring import (
    arm_pipeline,
    configured_arms,
    cross_namespace_node,
    feature_inputs,
)
from music_emotion.pipelines.experiment.comparison import summarise_experiment
from music_emotion.pipelines.experiment.figures import plot_experiment_deltas
from music_emotion.pipelines.experiment.folds import (
    assign_folds,
    experiment_parameters,
    fold_splits,
    unit_name,
)
from music_emotion.pipelines.experiment.nodes import aggregate_experiment
from music_emotion.pipelines.experiment.resume import PLAN, STORE, evaluate_arm, guarded_node, plan_experiment
from music_emotion.report.archive import build_report_archive
from music_emotion.study.arms import Arm

UNIT_OUTPUTS = {"model": "model", "history": "history", "baseline": "model"}
ARCHIVE = ("experiment_folds", "experiment_predictions", "experiment_metrics", "experiment_comparison",
           "experiment_summary", "experiment_deltas_plot")
SHARED = {PLAN, STORE, "experiment_folds", "mel_spectrograms", "emotion_labels", "experiment_training"}


def unit_pipeline(seed_index: int, fold: int, arms: dict[str, Arm]) -> Pipeline:
    """One fold x seed from one template: its splits and seed, its GAN if an arm needs one, every arm fitted and
    then scored and recorded by `evaluate_arm`; namespaced `seed<s>_fold<f>` (collapsed per unit in kedro-viz).
    Fitting nodes skip their work when the plan says every arm they feed is recorded (`resume`)."""
    unit = unit_name(seed_index, fold)
    synthetic = ("synthetic_spectrograms", "synthetic_labels")
    gan_arms = tuple(name for name, arm in arms.items() if arm.synthetic)
    template = [Node(BoundFunction(fold_splits, seed_index=seed_index, fold=fold), inputs="experiment_folds",
                     outputs=["song_splits", "seed"], name="fold_splits")]
    if gan_arms:
        template += [
            guarded_node(train_gan, inputs=["mel_spectrograms", "emotion_labels", "song_splits",
                                            "experiment_gan_augmentation", "seed", "params:device"],
                         outputs=["generator", "discriminator", "gan_history"], name="train_gan", unit=unit,
                         arms=gan_arms),
            guarded_node(generate_synthetic_spectrograms,
                         inputs=["generator", "emotion_labels", "song_splits", "params:gan_augmentation.generation",
                                 "seed", "params:device"],
                         outputs=list(synthetic), name="generate_synthetic_spectrograms", unit=unit, arms=gan_arms),
        ]
    for arm in arms.values():
        template += arm_pipeline(arm, "song_splits", "seed", synthetic, UNIT_OUTPUTS, vit_params="experiment_training",
                                 make_node=functools.partial(guarded_node, unit=unit, arms=(arm.name,))).nodes
        scored = {"experiment_plan": PLAN, "store": STORE, "mel_spectrograms": "mel_spectrograms",
                  "emotion_labels": "emotion_labels", "song_splits": "song_splits", "params": "experiment_training",
                  "seed": "seed", "device": "params:device", "model": f"{arm.name}.model", **feature_inputs({arm.name: arm})}
        if arm.is_transformer:
            scored["history"] = f"{arm.name}.history"
        if arm.synthetic:
            scored["gan_history"] = "gan_history"
        template.append(cross_namespace_node(BoundFunction(evaluate_arm, unit=unit, arm=arm.name), inputs=scored,
                                             outputs=f"{arm.name}.record", name=f"{arm.name}.evaluate_arm"))
    template = Pipeline(template)
    parameters = {name for name in template.inputs() if name.startswith("params:")}
    return Pipeline(template, namespace=unit,
                    inputs={*SHARED, *(["experiment_gan_augmentation"] if gan_arms else []), *feature_inputs(arms)},
                    parameters=parameters, tags=["experiment"])


def create_pipeline(**kwargs) -> Pipeline:
    params = run_parameters()
    experiment = params["experiment"]
    arms = configured_arms("experiment.arms")
    units = [(s, f) for s in range(int(experiment["n_seeds"])) for f in range(int(experiment["n_folds"]))]
    folds = Node(assign_folds, inputs=["mel_spectrograms", "emotion_labels", "params:experiment", "params:seed",
                                       "params:training.training.batch_size",
                                       "params:gan_augmentation.training.batch_size"],
                 outputs="experiment_folds", name="assign_folds")
    settings = Node(experiment_parameters,
                    inputs=["params:training", "params:gan_augmentation", "params:experiment"],
                    outputs=["experiment_training", "experiment_gan_augmentation"], name="experiment_parameters")
    plan = Node(BoundFunction(plan_experiment, arms=tuple(arms)),
                inputs={"experiment_folds": "experiment_folds", "training": "experiment_training",
                        "gan_augmentation": "experiment_gan_augmentation", "arm_specs": "params:arms",
                        "ridge": "params:training.baselines.ridge", "generation": "params:gan_augmentation.generation",
                        "params": "params:experiment", "store": STORE, "mel_spectrograms": "mel_spectrograms",
                        "emotion_labels": "emotion_labels", **feature_inputs(arms)},
                outputs=PLAN, name="plan_experiment")
    records = {f"record__{unit_name(s, f)}__{arm}": f"{unit_name(s, f)}.{arm}.record" for s, f in units for arm in arms}
    aggregate = cross_namespace_node(
        aggregate_experiment, inputs={"params": "params:experiment", **records},
        outputs=["experiment_predictions", "experiment_metrics", "experiment_comparison"], name="aggregate_experiment")
    report = [
        Node(summarise_experiment, inputs=["experiment_comparison", "experiment_metrics", "params:experiment"],
             outputs="experiment_summary", name="summarise_experiment"),
        Node(plot_experiment_deltas, inputs=["experiment_comparison", "params:reporting", "params:arms"],
             outputs="experiment_deltas_plot", name="plot_experiment_deltas"),
        Node(build_report_archive, inputs={"run_lineage": "run_lineage", **{name: name for name in ARCHIVE}},
             outputs="experiment_archive",
             name="build_experiment_archive"),
    ]
    return Pipeline([settings, folds, plan, *(unit_pipeline(s, f, arms) for s, f in units), aggregate, *report])
