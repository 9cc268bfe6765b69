"""`vit_training`: one namespaced pipeline per arm of the `arms:` map in conf, then one evaluation.

Which arms exist, and what each trains on, is data (`arms` and `vit_training.arms` in
conf/base/parameters*.yml): a ViT or AST arm's outputs are `<arm>.vit_model` / `<arm>.vit_history`, a
baseline arm's `<arm>.baseline_model` (catalog factories). `evaluate_test_set` takes whatever arms
exist. The `experiment` pipeline builds its folds from the same `arm_pipeline` template.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from kedro.pipeline import Node, Pipeline

from music_emotion.arms import Arm, parse_arms
from music_emotion.bound_function import BoundFunction
from music_emotion.pipelines.vit_training.nodes import (
    evaluate_test_set,
    fit_mean_baseline,
    fit_ridge_baseline,
    train_vit_arm,
)
from music_emotion.run_parameters import run_parameters

SYNTHETIC_INPUTS = ("synthetic_spectrograms", "synthetic_labels")
# Output dataset of each arm, inside its namespace, in the single-split run (catalog factories match them).
SINGLE_SPLIT_OUTPUTS = {"model": "vit_model", "history": "vit_history", "baseline": "baseline_model"}


def configured_arms(parameter: str = "vit_training.arms") -> dict[str, Arm]:
    """The arms a pipeline is built for: the names listed at `parameter` (null = every arm of `arms:`)."""
    params = run_parameters()
    section, key = parameter.rsplit(".", 1)
    selected = params.get(section, {}).get(key)
    return parse_arms(params.get("arms", {}), selected, parameter)


def arm_output(arm: Arm, outputs: Mapping[str, str]) -> str:
    """The dataset (inside the arm's namespace) that holds the arm's fitted model."""
    return outputs["model"] if arm.is_transformer else outputs["baseline"]


def arm_pipeline(
    arm: Arm,
    splits: str = "song_splits",
    seed: str = "params:seed",
    synthetic: tuple[str, str] = SYNTHETIC_INPUTS,
    outputs: Mapping[str, str] = SINGLE_SPLIT_OUTPUTS,
    namespace: str | None = None,
    vit_params: str = "params:vit_training",
) -> Pipeline:
    """The nodes that fit one arm on `splits`, in the namespace `<namespace>.<arm>` (or `<arm>`)."""
    shared = {"mel_spectrograms": arm.features, "emotion_labels": "emotion_labels", "song_splits": splits}
    if arm.is_transformer:
        inputs = {**shared, "arm": f"params:arms.{arm.name}", "params": vit_params, "seed": seed,
                  "device": "params:device"}
        if arm.synthetic:
            inputs.update(zip(SYNTHETIC_INPUTS, synthetic, strict=True))
        func = BoundFunction(train_vit_arm, arm_name=arm.name)
        node = Node(func, inputs=inputs, outputs=[outputs["model"], outputs["history"]], name="train_vit")
    elif arm.model == "mean_baseline":
        node = Node(fit_mean_baseline, inputs=[shared["emotion_labels"], splits], outputs=outputs["baseline"],
                    name="fit_mean_baseline")
    else:
        node = Node(fit_ridge_baseline, inputs=[*shared.values(), "params:vit_training.baselines.ridge"],
                    outputs=outputs["baseline"], name="fit_ridge_baseline")
    free_inputs = {name for name in node.inputs if not name.startswith("params:")}
    parameters = {name for name in node.inputs if name.startswith("params:")}
    return Pipeline([node], namespace=f"{namespace}.{arm.name}" if namespace else arm.name,
                    inputs=free_inputs, parameters=parameters)


def evaluation_node(
    arms: Mapping[str, Arm],
    splits: str,
    seed: str,
    outputs: list[str] | str,
    model_of=lambda arm: f"{arm.name}.{arm_output(arm, SINGLE_SPLIT_OUTPUTS)}",
    func=evaluate_test_set,
    name: str = "evaluate_test_set",
) -> Node:
    """`func(mel, labels, splits, params, seed, device, **{arm: model})` over whatever arms exist."""
    inputs = {"mel_spectrograms": "mel_spectrograms", "emotion_labels": "emotion_labels", "song_splits": splits,
              "params": "params:vit_training", "seed": seed, "device": "params:device",
              **feature_inputs(arms), **{arm.name: model_of(arm) for arm in arms.values()}}
    return cross_namespace_node(func, inputs=inputs, outputs=outputs, name=name)


def feature_inputs(arms: Mapping[str, Arm]) -> dict[str, str]:
    """The feature sets besides `mel_spectrograms` that the arms read (`ast_features` when an AST arm exists)."""
    return {arm.features: arm.features for arm in arms.values() if arm.features != "mel_spectrograms"}


def create_pipeline(**kwargs) -> Pipeline:
    arms = configured_arms()
    trained = [arm_pipeline(arm) for arm in arms.values()]
    return Pipeline([*trained, evaluation_node(arms, "song_splits", "params:seed", ["test_predictions", "test_metrics"])])


def cross_namespace_node(func, **kwargs) -> Node:
    """A top-level node that reads namespaced outputs (`real_only.vit_model`): by design, so Kedro's
    warning about dotted dataset names is silenced here only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="One or more dataset names contain")
        return Node(func, **kwargs)
