"""`training`: one namespaced pipeline per arm of the `arms:` map in conf, then one evaluation.

Which arms exist, and what each trains on, is data (`arms` and `training.arms` in
conf/base/parameters*.yml): a ViT or AST arm's outputs are `<arm>.trained_model` / `<arm>.training_history`, a
baseline arm's `<arm>.baseline_model` (catalog factories), an embedding arm's both (the probe's numbers, then
the servable probe + encoder). `evaluate_test_set` takes whatever arms
exist. The `experiment` pipeline builds its folds from the same `arm_pipeline` template.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline

from music_emotion.pipelines.arm_wiring import arm_pipeline, configured_arms, evaluation_node
from music_emotion.pipelines.training.nodes import evaluate_test_set
from music_emotion.study.arm_fitting import fit_mean_baseline, fit_ridge_baseline, train_arm
from music_emotion.study.probe import build_probe_model, fit_embedding_probe

# The function that fits each model family (`arms.<name>.model`).
FIT = {"mean_baseline": fit_mean_baseline, "ridge_baseline": fit_ridge_baseline, "vit": train_arm, "ast": train_arm,
       "embedding": fit_embedding_probe}


def create_pipeline(**kwargs) -> Pipeline:
    arms = configured_arms()
    trained = [arm_pipeline(arm, FIT[arm.model], serve=build_probe_model) for arm in arms.values()]
    return Pipeline([*trained, evaluation_node(evaluate_test_set, arms, "song_splits", "params:seed",
                                               ["test_predictions", "test_metrics"])])
