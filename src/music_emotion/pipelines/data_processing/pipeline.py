"""`data_processing`: DEAM annotations and mp3s -> emotion_labels, mel_spectrograms, extraction_report, song_splits,
`ast_features` when an arm of the single-split run or of the experiment has `model: ast`, `audio_embeddings` when
one has `model: embedding`."""

from kedro.pipeline import Node, Pipeline

from music_emotion.pipelines.arm_wiring import configured_arms, feature_inputs
from music_emotion.pipelines.data_processing.nodes import (
    build_extraction_report,
    extract_ast_features,
    extract_audio_embeddings,
    extract_mel_spectrograms,
    merge_annotations,
    split_songs,
)


def extra_feature_sets() -> set[str]:
    """Feature sets besides the log-mel spectrograms that some arm of the single-split run or the experiment reads."""
    return set(feature_inputs({**configured_arms("training.arms"), **configured_arms("experiment.arms")}))


def create_pipeline(**kwargs) -> Pipeline:
    needed = extra_feature_sets()
    embeddings = [Node(extract_audio_embeddings,
                       inputs=["deam_audio", "mel_spectrograms", "params:data_processing.embeddings",
                               "params:data_processing.extraction", "params:dask", "params:seed"],
                       outputs="audio_embeddings", name="extract_audio_embeddings")] \
        if "audio_embeddings" in needed else []
    ast = [Node(extract_ast_features, inputs=["deam_audio", "mel_spectrograms", "params:data_processing.ast_features",
                        "params:data_processing.extraction", "params:dask"],
                outputs="ast_features", name="extract_ast_features")] if "ast_features" in needed else []
    return Pipeline(
        [
            *ast,
            *embeddings,
            Node(
                merge_annotations,
                inputs=["deam_annotations_1_2000", "deam_annotations_2000_2058", "params:data_processing.labels"],
                outputs=["emotion_labels", "annotation_issues"],
                name="merge_annotations",
            ),
            Node(
                extract_mel_spectrograms,
                inputs=["deam_audio", "emotion_labels", "params:data_processing.extraction", "params:dask"],
                outputs=["mel_spectrograms", "extraction_log"],
                name="extract_mel_spectrograms",
            ),
            Node(
                build_extraction_report,
                inputs=["annotation_issues", "extraction_log"],
                outputs="extraction_report",
                name="build_extraction_report",
            ),
            Node(
                split_songs,
                inputs=["mel_spectrograms", "emotion_labels", "params:data_processing.split", "params:seed"],
                outputs="song_splits",
                name="split_songs",
            ),
        ]
    )
