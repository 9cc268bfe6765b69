"""`inference`: the user's audio folder + a trained vit_model -> per-window and per-file V/A, and a V/A plot."""

from kedro.pipeline import Node, Pipeline

from music_emotion.pipelines.inference.nodes import plot_va_plane, predict_audio_files


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                predict_audio_files,
                inputs=["inference_audio", "inference_model", "params:inference", "params:device"],
                outputs="inference_predictions",
                name="predict_audio_files",
            ),
            Node(
                plot_va_plane,
                inputs=["inference_predictions", "params:inference.plot"],
                outputs="inference_va_plot",
                name="plot_va_plane",
            ),
        ]
    )
