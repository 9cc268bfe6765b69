"""`inference`: a folder (or a whole library) of the user's audio + a trained trained_model -> V/A per window
(Parquet parts written batch by batch, resumable), per file, the files that failed, and a V/A plot."""

from kedro.pipeline import Node, Pipeline

from music_emotion.pipelines.inference.nodes import (
    plot_va_plane,
    predict_library,
    summarise_library,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                predict_library,
                inputs=["inference_audio", "inference_model", "library_predictions_done", "params:inference",
                        "params:dask", "params:device", "run_lineage"],
                outputs="library_predictions",
                name="predict_library",
            ),
            Node(
                summarise_library,
                inputs=["library_predictions", "inference_audio", "inference_model"],
                outputs=["inference_predictions", "library_errors"],
                name="summarise_library",
            ),
            Node(
                plot_va_plane,
                inputs=["inference_predictions", "params:inference.plot"],
                outputs="inference_va_plot",
                name="plot_va_plane",
            ),
        ]
    )
