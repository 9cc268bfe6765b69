"""How an arm of `arms:` becomes nodes, shared by every pipeline that trains or scores arms.

`training` (one split), `experiment` (every fold x seed), `data_processing` (which feature sets exist) and
`reporting` (which models to show) all follow whatever arms conf lists, through these builders; no
pipeline imports another."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

from kedro.pipeline import Node, Pipeline

from music_emotion.framework.running.bound_function import BoundFunction
from music_emotion.framework.running.run_parameters import run_parameters
from music_emotion.study.arms import GENERATED, READOUT_PARAMS, Arm, parse_arms

SYNTHETIC_INPUTS = ("synthetic_spectrograms", "synthetic_labels")
EMBEDDING_PARAMS = "params:data_processing.embeddings"  # the encoder a served embedding model names or rebuilds


# Output dataset of each arm, inside its namespace, in the single-split run (catalog factories match them).
SINGLE_SPLIT_OUTPUTS = {"model": "trained_model", "history": "training_history", "baseline": "baseline_model"}


def configured_arms(parameter: str = "training.arms") -> dict[str, Arm]:
    """The arms a pipeline is built for: the names listed at `parameter` (null = every arm of `arms:`)."""
    params = run_parameters()
    section, key = parameter.rsplit(".", 1)
    selected = params.get(section, {}).get(key)
    return parse_arms(params.get("arms", {}), selected, parameter)


def arm_output(arm: Arm, outputs: Mapping[str, str]) -> str:
    """The dataset (inside the arm's namespace) that holds the arm's fitted model: the servable one when the arm
    has one (networks; an embedding probe with its encoder), else the baseline's numbers."""
    return outputs["model"] if arm.is_served else outputs["baseline"]


def arm_pipeline(
    arm: Arm,
    fit: Callable[..., Any],
    splits: str = "song_splits",
    seed: str = "params:seed",
    outputs: Mapping[str, str] = SINGLE_SPLIT_OUTPUTS,
    namespace: str | None = None,
    vit_params: str = "params:training",
    serve: Callable[..., Any] | None = None,
) -> Pipeline:
    """The node that fits one arm on `splits` with `fit` (the caller's pipeline.py names it: `train_arm` for a
    network, `fit_mean_baseline` / `fit_ridge_baseline` / `fit_embedding_probe`), in the namespace
    `<namespace>.<arm>` (or `<arm>`); for an embedding arm, `serve` (named by the caller too:
    `build_probe_model`) then makes the fitted probe a servable model."""
    shared = {"mel_spectrograms": arm.features, "emotion_labels": "emotion_labels", "song_splits": splits}
    if arm.is_transformer:
        inputs = {**shared, "arm": f"params:arms.{arm.name}", "params": vit_params, "seed": seed,
                  "device": "params:device"}
        if arm.synthetic:
            generated = GENERATED[arm.synthetic]
            inputs.update(zip(SYNTHETIC_INPUTS, (generated.spectrograms, generated.labels), strict=True))
        node = Node(BoundFunction(fit, arm_name=arm.name), inputs=inputs,
                    outputs=[outputs["model"], outputs["history"]], name=fit.__name__)
    elif arm.model == "mean_baseline":
        node = Node(fit, inputs=[shared["emotion_labels"], splits], outputs=outputs["baseline"], name=fit.__name__)
    else:  # a read-out: an embedding probe also reads its arm (which probe) and the seed (the MLP's)
        arm_inputs = [f"params:arms.{arm.name}", seed] if arm.model == "embedding" else []
        node = Node(fit, inputs=[*shared.values(), READOUT_PARAMS[arm.model], *arm_inputs],
                    outputs=outputs["baseline"], name=fit.__name__)
    nodes = [node]
    if serve is not None and arm.model == "embedding":
        nodes.append(Node(serve, inputs=[outputs["baseline"], arm.features, EMBEDDING_PARAMS, seed],
                          outputs=outputs["model"], name=serve.__name__))
    inputs = {name for n in nodes for name in n.inputs}
    free_inputs = {name for name in inputs if not name.startswith("params:")} - {outputs["baseline"]}
    parameters = {name for name in inputs if name.startswith("params:")}
    return Pipeline(nodes, namespace=f"{namespace}.{arm.name}" if namespace else arm.name,
                    inputs=free_inputs, parameters=parameters)


def evaluation_node(
    func,
    arms: Mapping[str, Arm],
    splits: str,
    seed: str,
    outputs: list[str] | str,
    model_of=lambda arm: f"{arm.name}.{arm_output(arm, SINGLE_SPLIT_OUTPUTS)}",
) -> Node:
    """`func(mel, labels, splits, params, seed, device, **{arm: model})` over whatever arms exist."""
    inputs = {"mel_spectrograms": "mel_spectrograms", "emotion_labels": "emotion_labels", "song_splits": splits,
              "params": "params:training", "seed": seed, "device": "params:device",
              **feature_inputs(arms), **{arm.name: model_of(arm) for arm in arms.values()}}
    return cross_namespace_node(func, inputs=inputs, outputs=outputs, name=func.__name__)


def feature_inputs(arms: Mapping[str, Arm]) -> dict[str, str]:
    """The feature sets besides `mel_spectrograms` that the arms read (`ast_features` when an AST arm exists)."""
    return {arm.features: arm.features for arm in arms.values() if arm.features != "mel_spectrograms"}


def cross_namespace_node(func, **kwargs) -> Node:
    """A top-level node that reads namespaced outputs (`real_only.trained_model`): by design, so Kedro's
    warning about dotted dataset names is silenced here only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="One or more dataset names contain")
        return Node(func, **kwargs)
