"""The whole training pipeline on tiny in-memory inputs, with the real catalog factories."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from music_emotion.pipelines.training import create_pipeline
from music_emotion.study.arms import check_augmentations, parse_arms
from music_emotion.study.training_loop import HISTORY_COLUMNS, TrainingConfig
from tests.catalog_config import catalog_entries_for
from tests.conf_params import parameters

CONF = Path(__file__).resolve().parents[3] / "conf"
ARMS = parameters("arms")


def _catalog_in(tmp_path: Path) -> DataCatalog:
    config = catalog_entries_for(create_pipeline())
    for entry in config.values():
        entry["filepath"] = str(tmp_path / entry["filepath"])
    return DataCatalog.from_config(config)


def test_one_namespace_per_arm_and_only_synthetic_arms_read_synthetic_data():
    nodes = {node.name: node for node in create_pipeline().nodes}
    assert set(nodes) == {"mean.fit_mean_baseline", "ridge.fit_ridge_baseline", "real_only.train_arm", "gan.train_arm",
                          "diffusion.train_arm", "specaugment.train_arm", "mixup.train_arm", "cmixup.train_arm",
                          "ast.train_arm", "clap_probe.fit_embedding_probe", "clap_probe.build_probe_model",
                          "clap_mlp.fit_embedding_probe", "clap_mlp.build_probe_model", "evaluate_test_set"}
    # the embedding arm's probe reads the cached song embeddings and its own parameter section; the probe and the
    # encoder's description become the servable model, which evaluation scores
    assert set(nodes["clap_probe.fit_embedding_probe"].inputs) == {
        "audio_embeddings", "emotion_labels", "song_splits", "params:training.probe", "params:arms.clap_probe",
        "params:seed"}
    assert set(nodes["clap_probe.build_probe_model"].inputs) == {
        "clap_probe.baseline_model", "audio_embeddings", "params:data_processing.embeddings", "params:seed"}
    assert nodes["clap_probe.build_probe_model"].outputs == ["clap_probe.trained_model"]
    assert {"audio_embeddings", "clap_probe.trained_model"} <= set(nodes["evaluate_test_set"].inputs)
    for arm in ("real_only", "specaugment", "mixup", "cmixup"):
        assert not any(name.startswith("synthetic") for name in nodes[f"{arm}.train_arm"].inputs)
    assert {"synthetic_spectrograms", "synthetic_labels"} <= set(nodes["gan.train_arm"].inputs)
    # each generator's arm reads that generator's samples, and only those
    diffusion_inputs = set(nodes["diffusion.train_arm"].inputs)
    assert {"diffusion_synthetic_spectrograms", "diffusion_synthetic_labels"} <= diffusion_inputs
    assert "synthetic_spectrograms" not in diffusion_inputs
    shared = {"mel_spectrograms", "song_splits", "params:training", "params:seed", "params:device"}
    assert all(shared <= set(nodes[f"{arm}.train_arm"].inputs) for arm in ("real_only", "gan", "mixup"))
    assert set(nodes["evaluate_test_set"].inputs) >= {"real_only.trained_model", "gan.trained_model",
                                                      "ridge.baseline_model"}
    # the AST arm reads its own features; evaluation gets them to score it on the same TEST songs
    assert "ast_features" in nodes["ast.train_arm"].inputs and "mel_spectrograms" not in nodes["ast.train_arm"].inputs
    assert {"ast_features", "ast.trained_model", "mel_spectrograms"} <= set(nodes["evaluate_test_set"].inputs)


def test_an_arm_added_in_yaml_gets_its_own_namespace_and_evaluation(monkeypatch):
    """Variants are data: a new augmentation arm appears in the pipeline without code."""
    from music_emotion.framework.running import run_parameters

    params = {**run_parameters.run_parameters()}
    params["arms"] = {**ARMS, "masked_gan": {"model": "vit", "synthetic": True, "augmentations": ["specaugment"]}}
    params["training"] = {**params["training"], "arms": ["ridge", "real_only", "masked_gan"]}
    monkeypatch.setitem(run_parameters._current, "parameters", params)
    nodes = {node.name: node for node in create_pipeline().nodes}
    assert set(nodes) == {"ridge.fit_ridge_baseline", "real_only.train_arm", "masked_gan.train_arm",
                          "evaluate_test_set"}
    assert "params:arms.masked_gan" in nodes["masked_gan.train_arm"].inputs
    assert "masked_gan.trained_model" in nodes["evaluate_test_set"].inputs


def test_unknown_arm_name_is_a_clear_error(monkeypatch):
    from music_emotion.framework.running import run_parameters

    params = {**run_parameters.run_parameters()}
    params["training"] = {**params["training"], "arms": ["real_only", "cutmix"]}
    monkeypatch.setitem(run_parameters._current, "parameters", params)
    with pytest.raises(ValueError, match=r"training.arms names unknown arm\(s\) \['cutmix'\]"):
        create_pipeline()


def test_full_pipeline_trains_every_arm_and_tests_once(tmp_path, real_data, synthetic_data, ast_features,
                                                      audio_embeddings, tiny_params):
    mel, labels, splits = real_data
    catalog = _catalog_in(tmp_path)
    inputs = {
        "mel_spectrograms": mel,
        "ast_features": ast_features,
        "audio_embeddings": audio_embeddings,
        "params:training.probe": parameters("training.probe"),
        "params:data_processing.embeddings": parameters("data_processing.embeddings"),
        "emotion_labels": labels,
        "song_splits": splits,
        "synthetic_spectrograms": synthetic_data[0],
        "synthetic_labels": synthetic_data[1],
        "diffusion_synthetic_spectrograms": synthetic_data[0],  # the same toy samples stand in for the flow's
        "diffusion_synthetic_labels": synthetic_data[1],
        "params:training": tiny_params,
        "params:training.baselines.ridge": tiny_params["baselines"]["ridge"],
        "params:seed": 42,
        "params:device": "auto",
        **{f"params:arms.{name}": spec for name, spec in ARMS.items()},
    }
    for name, value in inputs.items():
        catalog[name] = value

    SequentialRunner().run(create_pipeline(), catalog)

    for arm in ("real_only", "gan", "diffusion", "specaugment", "mixup"):
        saved = list((tmp_path / "data/06_models" / arm / "trained_model").glob("*/trained_model/config.json"))
        assert len(saved) == 1  # versioned directory written by the factory entry
        history = catalog.load(f"{arm}.training_history")
        assert list(history.columns) == HISTORY_COLUMNS and len(history) == 2
        assert catalog.load(f"{arm}.trained_model").config["extraction"] == mel.meta["extraction"]
    ast = catalog.load("ast.trained_model")
    assert ast.family == "ast" and ast.config["extraction"] == ast_features.meta["extraction"]
    assert catalog.load("ridge.baseline_model")["model"] == "ridge_baseline"
    probe = catalog.load("clap_probe.baseline_model")
    assert probe["model"] == "embedding_probe" and probe["encoder"]["kind"] == "clap_embedding"

    predictions = catalog.load("test_predictions")
    metrics = catalog.load("test_metrics")
    assert set(metrics) == set(ARMS)
    assert all(metrics[m]["n_songs"] == len(splits["test"]) for m in ARMS)
    assert set(metrics["gan"]["arousal"]) == {"ccc", "pearson", "r2", "rmse", "mae"}
    for arm in ARMS:  # every arm scored on exactly the same real TEST songs
        assert sorted(predictions.loc[predictions.model == arm, "song_id"]) == sorted(splits["test"])
    assert not set(predictions["song_id"].astype(str)) & set(synthetic_data[0].ids)
    assert list(predictions.columns) == [
        "song_id", "model", "valence_true", "arousal_true", "valence_pred", "arousal_pred"
    ]


@pytest.mark.parametrize("env", ["base", "demo"])
def test_configured_parameters_are_valid(env):
    from music_emotion.models.vit_regression import ViTModelParams
    from music_emotion.study.augment import parse_augmentation

    vit = parameters("training", env)
    TrainingConfig.from_params(vit["optimisation"])
    ViTModelParams.from_params(vit["model"])
    for name, spec in vit["augmentations"].items():
        parse_augmentation(name, spec, "training.augmentations")
    arms = parse_arms(parameters("arms", env), vit["arms"], "training.arms")
    check_augmentations(arms, vit["augmentations"], "training.augmentations")
    assert vit["model"]["checkpoint"] == ("google/vit-base-patch16-224-in21k" if env == "base" else None)
