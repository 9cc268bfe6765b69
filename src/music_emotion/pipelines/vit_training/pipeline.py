"""`vit_training`: one training template, instantiated as the `real_only` and `augmented` namespaces.

Both instances share the real inputs and the `vit_training` / `seed` / `device` parameters (same split,
seed and budget); only `augmented` reads `synthetic_spectrograms` / `synthetic_labels`. Their outputs are
`real_only.vit_model`, `augmented.vit_history`, ... (catalog factories `{namespace}.vit_model`).
The baselines and the single test-set evaluation sit outside the namespaces.
"""

import warnings

from kedro.pipeline import Node, Pipeline

from music_emotion.pipelines.vit_training.nodes import (
    evaluate_test_set,
    fit_mean_baseline,
    fit_ridge_baseline,
    train_vit_augmented,
    train_vit_real_only,
)

REAL_INPUTS = ["mel_spectrograms", "emotion_labels", "song_splits"]
SYNTHETIC_INPUTS = ["synthetic_spectrograms", "synthetic_labels"]
SHARED_PARAMETERS = ["params:vit_training", "params:seed", "params:device"]
NAMESPACES = ("real_only", "augmented")


def _training_template(with_synthetic: bool) -> Pipeline:
    """The train node before namespacing: outputs `vit_model` and `vit_history`."""
    inputs = REAL_INPUTS + (SYNTHETIC_INPUTS if with_synthetic else [])
    return Pipeline(
        [
            Node(
                train_vit_augmented if with_synthetic else train_vit_real_only,
                inputs=inputs + SHARED_PARAMETERS,
                outputs=["vit_model", "vit_history"],
                name="train_vit",
            )
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    trained = [
        Pipeline(
            _training_template(with_synthetic=namespace == "augmented"),
            namespace=namespace,
            inputs=set(REAL_INPUTS + (SYNTHETIC_INPUTS if namespace == "augmented" else [])),
            parameters=set(SHARED_PARAMETERS),
        )
        for namespace in NAMESPACES
    ]
    baselines_and_test = Pipeline(
        [
            Node(
                fit_mean_baseline,
                inputs=["emotion_labels", "song_splits"],
                outputs="mean_baseline",
                name="fit_mean_baseline",
            ),
            Node(
                fit_ridge_baseline,
                inputs=["mel_spectrograms", "emotion_labels", "song_splits", "params:vit_training.baselines.ridge"],
                outputs="ridge_baseline",
                name="fit_ridge_baseline",
            ),
            _cross_namespace_node(
                evaluate_test_set,
                inputs=[
                    "real_only.vit_model",
                    "augmented.vit_model",
                    "mean_baseline",
                    "ridge_baseline",
                    *REAL_INPUTS,
                    *SHARED_PARAMETERS,
                ],
                outputs=["test_predictions", "test_metrics"],
                name="evaluate_test_set",
            ),
        ]
    )
    return Pipeline([*trained, baselines_and_test])


def _cross_namespace_node(func, **kwargs) -> Node:
    """A top-level node that reads namespaced outputs (`real_only.vit_model`): by design, so Kedro's
    warning about dotted dataset names is silenced here only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="One or more dataset names contain")
        return Node(func, **kwargs)
