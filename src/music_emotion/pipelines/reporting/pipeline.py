"""`reporting`: the other pipelines' outputs -> figures, `metrics_summary` (markdown + CSV), `report_archive`."""

import warnings

from kedro.pipeline import Node, Pipeline

from music_emotion.pipelines.reporting.nodes import (
    build_report_archive,
    plot_augmented_dataset_comparison,
    plot_gan_training_curves,
    plot_prediction_scatter,
    plot_real_vs_synthetic,
    plot_spectrogram_examples,
    plot_va_space_comparison,
    plot_vit_training_curves,
    summarise_metrics,
)

FIGURES = (
    "spectrogram_examples",
    "gan_training_curves",
    "real_vs_synthetic",
    "augmented_dataset_comparison",
    "vit_training_curves",
    "prediction_scatter",
    "va_space_comparison",
)

# What `report_archive` holds: catalog entries, never whatever lies in a folder.
ARCHIVE_CONTENTS = (
    *FIGURES,
    "metrics_summary",
    "metrics_summary_table",
    "test_metrics",
    "test_predictions",
    "gan_quality",
    "gan_history",
    "real_only.vit_history",
    "augmented.vit_history",
    "generator",
    "real_only.vit_model",
    "augmented.vit_model",
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                plot_spectrogram_examples,
                inputs=["mel_spectrograms", "emotion_labels", "song_splits", "params:reporting"],
                outputs="spectrogram_examples",
                name="plot_spectrogram_examples",
            ),
            Node(
                plot_gan_training_curves,
                inputs=["gan_history", "params:reporting"],
                outputs="gan_training_curves",
                name="plot_gan_training_curves",
            ),
            Node(
                plot_real_vs_synthetic,
                inputs=[
                    "mel_spectrograms",
                    "emotion_labels",
                    "song_splits",
                    "synthetic_spectrograms",
                    "synthetic_labels",
                    "params:reporting",
                ],
                outputs="real_vs_synthetic",
                name="plot_real_vs_synthetic",
            ),
            Node(
                plot_augmented_dataset_comparison,
                inputs=["emotion_labels", "song_splits", "synthetic_labels", "params:reporting"],
                outputs="augmented_dataset_comparison",
                name="plot_augmented_dataset_comparison",
            ),
            _cross_namespace_node(
                plot_vit_training_curves,
                inputs=["real_only.vit_history", "augmented.vit_history", "params:reporting"],
                outputs="vit_training_curves",
                name="plot_vit_training_curves",
            ),
            Node(
                plot_prediction_scatter,
                inputs=["test_predictions", "params:reporting"],
                outputs="prediction_scatter",
                name="plot_prediction_scatter",
            ),
            Node(
                plot_va_space_comparison,
                inputs=["test_predictions", "params:reporting"],
                outputs="va_space_comparison",
                name="plot_va_space_comparison",
            ),
            Node(
                summarise_metrics,
                inputs=["test_metrics", "gan_quality", "song_splits", "synthetic_labels", "params:reporting"],
                outputs=["metrics_summary_table", "metrics_summary"],
                name="summarise_metrics",
            ),
            _cross_namespace_node(
                build_report_archive,
                # keyword = catalog name with "." as "__" (the node turns it back into the member path)
                inputs={name.replace(".", "__"): name for name in ARCHIVE_CONTENTS},
                outputs="report_archive",
                name="build_report_archive",
            ),
        ]
    )


def _cross_namespace_node(func, **kwargs) -> Node:
    """A top-level node that reads namespaced outputs (`real_only.vit_history`) on purpose: Kedro's
    warning about dotted dataset names is silenced for this node only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="One or more dataset names contain")
        return Node(func, **kwargs)
