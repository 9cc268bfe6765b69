"""`demo_data`: writes the synthetic demo dataset under data/01_raw/demo_deam (DEAM layout)."""

from kedro.pipeline import Node, Pipeline

from music_emotion.pipelines.demo_data.nodes import synthesise_demo_dataset


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                synthesise_demo_dataset,
                inputs=["params:demo_data", "params:seed"],
                outputs=["demo_deam_audio", "demo_annotations_1_2000", "demo_annotations_2000_2058"],
                name="synthesise_demo_dataset",
            )
        ]
    )
