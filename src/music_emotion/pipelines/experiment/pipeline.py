"""`experiment`: k song folds x n seeds, each a namespaced copy of one template, then one aggregation.

One unit (namespace `seed<s>_fold<f>`) = that fold's `song_splits` and seed -> the fold's GAN (when an arm
trains on synthetic samples) -> every arm, fitted by the same node functions as the single-split run ->
`evaluate_fold`. Units share nothing they fit, so `--runner ParallelRunner` runs them side by side.
Folds and seeds come from `experiment.n_folds` / `n_seeds`, arms from `experiment.arms` (null = all).
"""

from __future__ import annotations

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
)
from music_emotion.pipelines.experiment.nodes import aggregate_experiment, evaluate_fold
from music_emotion.report.archive import build_report_archive
from music_emotion.study.arms import Arm

UNIT_OUTPUTS = {"model": "model", "history": "history", "baseline": "model"}
ARCHIVE = ("experiment_folds", "experiment_predictions", "experiment_metrics", "experiment_comparison",
           "experiment_summary", "experiment_deltas_plot")


def unit_name(seed_index: int, fold: int) -> str:
    return f"seed{seed_index}_fold{fold}"


def unit_pipeline(seed_index: int, fold: int, arms: dict[str, Arm]) -> Pipeline:
    """One fold x seed from one template: its splits and seed, its GAN if an arm needs one, every arm, its
    evaluation; namespaced `seed<s>_fold<f>` (collapsed per unit in kedro-viz)."""
    synthetic = ("synthetic_spectrograms", "synthetic_labels")
    template = [Node(BoundFunction(fold_splits, seed_index=seed_index, fold=fold), inputs="experiment_folds",
                     outputs=["song_splits", "seed"], name="fold_splits")]
    gan = any(arm.synthetic for arm in arms.values())
    if gan:
        template += [
            Node(train_gan, inputs=["mel_spectrograms", "emotion_labels", "song_splits", "experiment_gan_augmentation",
                                    "seed", "params:device"],
                 outputs=["generator", "discriminator", "gan_history"], name="train_gan"),
            Node(generate_synthetic_spectrograms,
                 inputs=["generator", "emotion_labels", "song_splits", "params:gan_augmentation.generation", "seed",
                         "params:device"],
                 outputs=list(synthetic), name="generate_synthetic_spectrograms"),
        ]
    fitted = {"gan_history": "gan_history"} if gan else {}
    for arm in arms.values():
        template += arm_pipeline(arm, "song_splits", "seed", synthetic, UNIT_OUTPUTS,
                                 vit_params="experiment_training").nodes
        fitted[f"model__{arm.name}"] = f"{arm.name}.model"
        if arm.is_transformer:
            fitted[f"history__{arm.name}"] = f"{arm.name}.history"
    template.append(cross_namespace_node(
        evaluate_fold,
        inputs={"mel_spectrograms": "mel_spectrograms", "emotion_labels": "emotion_labels", "song_splits": "song_splits",
                "params": "experiment_training", "seed": "seed", "device": "params:device", **feature_inputs(arms),
                **fitted},
        outputs=["predictions", "facts"], name="evaluate_fold",
    ))
    template = Pipeline(template)
    parameters = {name for name in template.inputs() if name.startswith("params:")}
    return Pipeline(template, namespace=unit_name(seed_index, fold),
                    inputs={"experiment_folds", "mel_spectrograms", "emotion_labels", "experiment_training",
                            *(["experiment_gan_augmentation"] if gan else []), *feature_inputs(arms)},
                    parameters=parameters,
                    tags=["experiment"])


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
    tables = {}
    for s, f in units:
        tables[f"predictions__{unit_name(s, f)}"] = f"{unit_name(s, f)}.predictions"
        tables[f"facts__{unit_name(s, f)}"] = f"{unit_name(s, f)}.facts"
    aggregate = cross_namespace_node(
        aggregate_experiment, inputs={"params": "params:experiment", **tables},
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
    return Pipeline([settings, folds, *(unit_pipeline(s, f, arms) for s, f in units), aggregate, *report])
