"""`reporting`: the other pipelines' outputs -> figures, `metrics_summary` (markdown + CSV), `report_archive`."""

from kedro.pipeline import Node, Pipeline

from music_emotion.framework.running.bound_function import BoundFunction
from music_emotion.framework.running.run_parameters import run_parameters
from music_emotion.pipelines.arm_wiring import (
    SINGLE_SPLIT_OUTPUTS,
    arm_output,
    configured_arms,
    cross_namespace_node,
)
from music_emotion.pipelines.reporting.nodes import (
    plot_augmented_dataset_comparison,
    plot_generator_training_curves,
    plot_prediction_scatter,
    plot_real_vs_synthetic,
    plot_spectrogram_examples,
    plot_training_curves,
    plot_va_space_comparison,
)
from music_emotion.report.archive import build_report_archive
from music_emotion.report.summary import summarise_metrics
from music_emotion.study.arms import GENERATED, Arm, reported_generators

FIGURES = (
    "spectrogram_examples",
    "generator_training_curves",
    "real_vs_synthetic",
    "augmented_dataset_comparison",
    "training_curves",
    "prediction_scatter",
    "va_space_comparison",
)

# What `report_archive` holds besides every arm's fitted model and history: catalog entries, never
# whatever lies in a folder. A reviewer who gets only the zip sees the whole result.
ARCHIVE_CONTENTS = (
    *FIGURES,
    "metrics_summary",
    "metrics_summary_table",
    "test_metrics",
    "test_predictions",
    "song_splits",
    "extraction_report",
)


def archive_contents(arms: dict[str, Arm]) -> list[str]:
    """Every catalog entry the archive holds: the fixed ones, each reported generator's quality report, history and
    networks, and each arm's fitted model (and ViT history)."""
    per_generator = [name for generator in reported_generators(arms)
                     for name in (GENERATED[generator].quality, GENERATED[generator].history,
                                  *GENERATED[generator].models)]
    per_arm = []
    for arm in arms.values():
        per_arm.append(f"{arm.name}.{arm_output(arm, SINGLE_SPLIT_OUTPUTS)}")
        if arm.model == "embedding":  # the probe's numbers (alpha per VAL CCC) beside the servable model
            per_arm.append(f"{arm.name}.{SINGLE_SPLIT_OUTPUTS['baseline']}")
        if arm.is_transformer:
            per_arm.append(f"{arm.name}.{SINGLE_SPLIT_OUTPUTS['history']}")
    return [*ARCHIVE_CONTENTS, *per_generator, *per_arm]


def create_pipeline(**kwargs) -> Pipeline:
    arms = configured_arms()
    params = run_parameters()
    vit_arms = [arm for arm in arms.values() if arm.is_transformer]
    return Pipeline(
        [
            Node(
                plot_spectrogram_examples,
                inputs=["mel_spectrograms", "emotion_labels", "song_splits", "params:reporting"],
                outputs="spectrogram_examples",
                name="plot_spectrogram_examples",
            ),
            Node(
                plot_generator_training_curves,
                inputs={"params": "params:reporting",
                        **{generator: GENERATED[generator].history for generator in reported_generators(arms)}},
                outputs="generator_training_curves",
                name="plot_generator_training_curves",
            ),
            Node(
                plot_real_vs_synthetic,
                inputs={"mel_spectrograms": "mel_spectrograms", "emotion_labels": "emotion_labels",
                        "song_splits": "song_splits", "params": "params:reporting",
                        **{f"{generator}_{part}": getattr(GENERATED[generator], part)
                           for generator in reported_generators(arms) for part in ("spectrograms", "labels")}},
                outputs="real_vs_synthetic",
                name="plot_real_vs_synthetic",
            ),
            Node(
                plot_augmented_dataset_comparison,
                inputs=["emotion_labels", "song_splits", "synthetic_labels", "params:reporting"],
                outputs="augmented_dataset_comparison",
                name="plot_augmented_dataset_comparison",
            ),
            cross_namespace_node(
                plot_training_curves,
                inputs={"params": "params:reporting", "arms": "params:arms",
                        **{arm.name: f"{arm.name}.{SINGLE_SPLIT_OUTPUTS['history']}" for arm in vit_arms}},
                outputs="training_curves",
                name="plot_training_curves",
            ),
            Node(
                plot_prediction_scatter,
                inputs=["test_predictions", "params:reporting", "params:arms"],
                outputs="prediction_scatter",
                name="plot_prediction_scatter",
            ),
            Node(
                plot_va_space_comparison,
                inputs=["test_predictions", "params:reporting", "params:arms"],
                outputs="va_space_comparison",
                name="plot_va_space_comparison",
            ),
            Node(
                summarise_metrics,
                inputs={"test_metrics": "test_metrics", "song_splits": "song_splits",
                        "synthetic_labels": "synthetic_labels", "params": "params:reporting", "arms": "params:arms",
                        **{generator: GENERATED[generator].quality for generator in reported_generators(arms)}},
                outputs=["metrics_summary_table", "metrics_summary"],
                name="summarise_metrics",
            ),
            cross_namespace_node(
                BoundFunction(build_report_archive,
                              model_weights=bool(params["reporting"]["archive_model_weights"])),
                # keyword = catalog name with "." as "__" (the node turns it back into the member path)
                inputs={"run_lineage": "run_lineage",
                        **{name.replace(".", "__"): name for name in archive_contents(arms)}},
                outputs="report_archive",
                name="build_report_archive",
            ),
        ]
    )
