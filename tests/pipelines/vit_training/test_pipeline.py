"""The whole vit_training pipeline on tiny in-memory inputs, with the real catalog factories."""

from __future__ import annotations

from pathlib import Path

import yaml
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from music_emotion.pipelines.vit_training import create_pipeline
from music_emotion.pipelines.vit_training.training import HISTORY_COLUMNS, TrainingConfig
from tests.catalog_config import catalog_entries_for

CONF = Path(__file__).resolve().parents[3] / "conf"
MODELS = ("mean_baseline", "ridge_baseline", "real_only", "augmented")


def _catalog_in(tmp_path: Path) -> DataCatalog:
    config = catalog_entries_for(create_pipeline())
    for entry in config.values():
        entry["filepath"] = str(tmp_path / entry["filepath"])
    return DataCatalog.from_config(config)


def test_real_only_never_reads_synthetic_data():
    nodes = {node.name: node for node in create_pipeline().nodes}
    assert not any(name.startswith("synthetic") for name in nodes["real_only.train_vit"].inputs)
    assert {"synthetic_spectrograms", "synthetic_labels"} <= set(nodes["augmented.train_vit"].inputs)
    shared = {"mel_spectrograms", "song_splits", "params:vit_training", "params:seed", "params:device"}
    assert shared <= set(nodes["real_only.train_vit"].inputs) & set(nodes["augmented.train_vit"].inputs)
    assert set(nodes["evaluate_test_set"].inputs) >= {"real_only.vit_model", "augmented.vit_model"}


def test_full_pipeline_trains_both_namespaces_and_tests_once(tmp_path, real_data, synthetic_data, tiny_params):
    mel, labels, splits = real_data
    catalog = _catalog_in(tmp_path)
    inputs = {
        "mel_spectrograms": mel,
        "emotion_labels": labels,
        "song_splits": splits,
        "synthetic_spectrograms": synthetic_data[0],
        "synthetic_labels": synthetic_data[1],
        "params:vit_training": tiny_params,
        "params:vit_training.baselines.ridge": tiny_params["baselines"]["ridge"],
        "params:seed": 42,
        "params:device": "auto",
    }
    for name, value in inputs.items():
        catalog[name] = value

    SequentialRunner().run(create_pipeline(), catalog)

    for namespace in ("real_only", "augmented"):
        saved = list((tmp_path / "data/06_models" / namespace / "vit_model").glob("*/vit_model/config.json"))
        assert len(saved) == 1  # versioned directory written by the factory entry
        history = catalog.load(f"{namespace}.vit_history")
        assert list(history.columns) == HISTORY_COLUMNS and len(history) == 2
        assert catalog.load(f"{namespace}.vit_model").config["extraction"] == mel.meta["extraction"]

    predictions = catalog.load("test_predictions")
    metrics = catalog.load("test_metrics")
    assert set(metrics) == set(MODELS)
    assert all(metrics[m]["n_songs"] == len(splits["test"]) for m in MODELS)
    assert set(metrics["augmented"]["arousal"]) == {"ccc", "pearson", "r2", "rmse", "mae"}
    for model in MODELS:  # every model scored on exactly the same real TEST songs
        assert sorted(predictions.loc[predictions.model == model, "song_id"]) == sorted(splits["test"])
    assert not set(predictions["song_id"].astype(str)) & set(synthetic_data[0].ids)
    assert list(predictions.columns) == [
        "song_id", "model", "valence_true", "arousal_true", "valence_pred", "arousal_pred"
    ]


def test_configured_parameters_are_valid():
    base = yaml.safe_load((CONF / "base" / "parameters_vit_training.yml").read_text())["vit_training"]
    demo = yaml.safe_load((CONF / "demo" / "parameters_vit_training.yml").read_text())["vit_training"]
    assert TrainingConfig.from_params(base["training"]).batch_size == 16
    assert TrainingConfig.from_params({**base["training"], **demo["training"]}).epochs == demo["training"]["epochs"]
    assert base["model"]["checkpoint"] == "google/vit-base-patch16-224-in21k"
    assert demo["model"]["checkpoint"] is None and demo["model"]["vit_config"]["hidden_size"] == 64
