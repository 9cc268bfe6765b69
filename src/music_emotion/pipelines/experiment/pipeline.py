"""`experiment`: k song folds x n seeds, each a namespaced copy of one template, then one aggregation.

`plan_experiment` first lists every (seed, fold, arm) result with its record key and whether an earlier run
recorded it (`resume.py`). One unit (namespace `seed<s>_fold<f>`) = that fold's `song_splits` and seed -> the
fold's GAN (when an arm trains on synthetic samples) -> every arm, fitted by the same functions as the
single-split run and scored and recorded in the same node. Units share nothing they fit, so
`--runner ParallelRunner` or the DaskRunner runs them side by side.
Folds and seeds come from `experiment.n_folds` / `n_seeds`, arms from `experiment.arms` (null = all).
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from music_emotion.framework.running.bound_function import BoundFunction
from music_emotion.framework.running.run_parameters import run_parameters
from music_emotion.pipelines.arm_wiring import configured_arms, cross_namespace_node, feature_inputs
from music_emotion.pipelines.experiment.nodes import (
    aggregate_experiment,
    fit_and_record_arm,
    fit_generator_and_record_arms,
    plan_experiment,
)
from music_emotion.pipelines.experiment.resume import PLAN, STORE
from music_emotion.report.archive import build_report_archive
from music_emotion.report.comparison import summarise_experiment
from music_emotion.report.figures.experiment import plot_experiment_deltas
from music_emotion.study.arms import GENERATORS, READOUT_PARAMS, Arm
from music_emotion.study.folds import (
    assign_folds,
    experiment_parameters,
    fold_splits,
    unit_name,
)

ARCHIVE = ("experiment_folds", "experiment_predictions", "experiment_metrics", "experiment_comparison",
           "experiment_summary", "experiment_deltas_plot")
SHARED = {PLAN, STORE, "experiment_folds", "mel_spectrograms", "emotion_labels", "experiment_training"}


def unit_pipeline(seed_index: int, fold: int, arms: dict[str, Arm]) -> Pipeline:
    """One fold x seed from one template, namespaced `seed<s>_fold<f>` (collapsed per unit in kedro-viz): its
    splits and seed, then one node per arm that fits, scores and records it, and one per generator family (the
    fold's GAN or flow-matching generator) with the arms trained on its samples (`resume.py`: recorded results are
    read back, not refitted)."""
    unit = unit_name(seed_index, fold)
    shared = {"experiment_plan": PLAN, "store": STORE, "emotion_labels": "emotion_labels",
              "song_splits": "song_splits", "training": "experiment_training", "seed": "seed",
              "device": "params:device"}
    template = [Node(BoundFunction(fold_splits, seed_index=seed_index, fold=fold), inputs="experiment_folds",
                     outputs=["song_splits", "seed"], name="fold_splits")]
    for arm in (arm for arm in arms.values() if not arm.synthetic):
        template.append(Node(
            BoundFunction(fit_and_record_arm, unit=unit, arm=arm.name),
            inputs={**shared, "features": arm.features, "arm_spec": f"params:arms.{arm.name}",
                    **({"readout": READOUT_PARAMS[arm.model]} if arm.model in READOUT_PARAMS else {})},
            outputs=f"{arm.name}_record", name=f"{arm.name}.fit_and_record_arm"))
    for generator in GENERATORS:
        trained_on = tuple(name for name, arm in arms.items() if arm.synthetic == generator)
        if trained_on:
            template.append(Node(
                BoundFunction(fit_generator_and_record_arms, unit=unit, generator=generator, arms=trained_on),
                inputs={**shared, "mel_spectrograms": "mel_spectrograms", "generators": "experiment_generators",
                        "generation": "params:gan_augmentation.generation", "arm_specs": "params:arms"},
                outputs=[f"{name}_record" for name in trained_on], name=f"fit_{generator}_and_record_arms"))
    uses_generators = any(arm.synthetic for arm in arms.values())
    template = Pipeline(template)
    parameters = {name for name in template.inputs() if name.startswith("params:")}
    return Pipeline(template, namespace=unit,
                    inputs={*SHARED, *(["experiment_generators"] if uses_generators else []), *feature_inputs(arms)},
                    parameters=parameters, tags=["experiment"])


def create_pipeline(**kwargs) -> Pipeline:
    params = run_parameters()
    experiment = params["experiment"]
    arms = configured_arms("experiment.arms")
    units = [(s, f) for s in range(int(experiment["n_seeds"])) for f in range(int(experiment["n_folds"]))]
    folds = Node(assign_folds, inputs=["mel_spectrograms", "emotion_labels", "params:experiment", "params:seed",
                                       "params:training.optimisation.batch_size",
                                       "params:gan_augmentation.training.batch_size"],
                 outputs="experiment_folds", name="assign_folds")
    settings = Node(experiment_parameters,
                    inputs=["params:training", "params:gan_augmentation", "params:diffusion_augmentation",
                            "params:experiment"],
                    outputs=["experiment_training", "experiment_generators"], name="experiment_parameters")
    plan = Node(BoundFunction(plan_experiment, arms=tuple(arms)),
                inputs={"experiment_folds": "experiment_folds", "training": "experiment_training",
                        "generators": "experiment_generators", "arm_specs": "params:arms",
                        "ridge": "params:training.baselines.ridge", "generation": "params:gan_augmentation.generation",
                        "params": "params:experiment", "store": STORE, "mel_spectrograms": "mel_spectrograms",
                        "emotion_labels": "emotion_labels", **feature_inputs(arms)},
                outputs=PLAN, name="plan_experiment")
    records = {f"record__{unit_name(s, f)}__{arm}": f"{unit_name(s, f)}.{arm}_record" for s, f in units for arm in arms}
    aggregate = cross_namespace_node(
        aggregate_experiment, inputs={"params": "params:experiment", **records},
        outputs=["experiment_predictions", "experiment_metrics", "experiment_comparison"], name="aggregate_experiment")
    report = [
        Node(summarise_experiment, inputs=["experiment_comparison", "experiment_metrics", "params:experiment"],
             outputs="experiment_summary", name="summarise_experiment"),
        Node(plot_experiment_deltas, inputs=["experiment_comparison", "params:reporting", "params:arms"],
             outputs="experiment_deltas_plot", name="plot_experiment_deltas"),
        Node(BoundFunction(build_report_archive, model_weights=bool(params["reporting"]["archive_model_weights"])),
             inputs={"run_lineage": "run_lineage", **{name: name for name in ARCHIVE}},
             outputs="experiment_archive",
             name="build_experiment_archive"),
    ]
    return Pipeline([settings, folds, plan, *(unit_pipeline(s, f, arms) for s, f in units), aggregate, *report])
