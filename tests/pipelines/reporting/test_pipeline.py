"""The reporting pipeline wired to its real catalog entries (paths moved to tmp), run on fake inputs."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from music_emotion.framework.running import run_parameters
from music_emotion.pipelines.reporting.pipeline import FIGURES, create_pipeline
from tests.catalog_config import catalog_entries_for

from .conftest import ARMS, MODELS

PROJECT = Path(__file__).resolve().parents[3]
CONTRACT_INPUTS = {
    "mel_spectrograms", "emotion_labels", "song_splits", "gan_history", "synthetic_spectrograms",
    "synthetic_labels", "gan_quality", "real_only.training_history", "gan.training_history", "test_predictions",
    "test_metrics", "generator", "discriminator", "real_only.trained_model", "gan.trained_model", "mean.baseline_model",
    "ridge.baseline_model", "extraction_report", "params:reporting", "params:arms", "run_lineage",
}


@pytest.fixture(autouse=True)
def four_arms(monkeypatch):
    """Reporting is built for whatever arms conf lists: here mean, ridge, real_only and gan."""
    params = {**run_parameters.run_parameters(), "arms": ARMS}
    params["training"] = {**params["training"], "arms": list(MODELS)}
    monkeypatch.setitem(run_parameters._current, "parameters", params)


def _catalog_config() -> dict:
    return catalog_entries_for(create_pipeline())


def test_pipeline_reads_only_contract_inputs_and_writes_catalogued_outputs():
    pipeline = create_pipeline()
    assert pipeline.inputs() == CONTRACT_INPUTS
    config = _catalog_config()
    assert pipeline.all_outputs() == set(config) == {*FIGURES, "metrics_summary", "metrics_summary_table",
                                                     "report_archive"}
    for name, entry in config.items():
        assert entry["versioned"] is True, name
        assert entry["metadata"]["kedro-viz"]["layer"] == "reporting", name
        assert entry["filepath"].startswith("data/08_reporting/"), name
    for name in FIGURES:
        assert config[name]["type"] == "music_emotion.datasets.FigureDataset"


@pytest.fixture
def catalog(tmp_path, monkeypatch, mel_spectrograms, emotion_labels, song_splits, gan_history,
            synthetic_spectrograms, synthetic_labels, gan_quality, vit_histories, test_predictions, test_metrics,
            tiny_models, reporting_params):
    config = _catalog_config()
    for entry in config.values():
        entry["filepath"] = str(tmp_path / entry["filepath"])
    catalog = DataCatalog.from_config(config)
    inputs = {
        "mel_spectrograms": mel_spectrograms, "emotion_labels": emotion_labels, "song_splits": song_splits,
        "gan_history": gan_history, "synthetic_spectrograms": synthetic_spectrograms,
        "synthetic_labels": synthetic_labels, "gan_quality": gan_quality,
        "real_only.training_history": vit_histories["real_only"], "gan.training_history": vit_histories["gan"],
        "test_predictions": test_predictions, "test_metrics": test_metrics, "params:reporting": reporting_params,
        "params:arms": ARMS, "mean.baseline_model": {"model": "mean_baseline", "valence": 0.1, "arousal": 0.0},
        "ridge.baseline_model": {"model": "ridge_baseline", "alpha": 1.0},
        "extraction_report": pd.DataFrame({"song_id": [1], "status": ["ok"], "reason": [""]}),
        "run_lineage": {"run": "2026-01-01T00.00.00.000Z",
                        "input_versions": {"gan.trained_model": "2025-12-31T00.00.00.000Z"}},
        **tiny_models,
    }
    for name, value in inputs.items():
        catalog[name] = MemoryDataset(value, copy_mode="assign")
    return catalog


def test_reporting_pipeline_writes_figures_tables_and_archive(catalog, tmp_path):
    SequentialRunner().run(create_pipeline(), catalog)
    reporting = tmp_path / "data/08_reporting"
    for name in FIGURES:
        versions = list((reporting / f"{name}.png").glob("*/" + f"{name}.png"))
        assert len(versions) == 1 and versions[0].read_bytes().startswith(b"\x89PNG"), name
    assert "## Test-set metrics" in catalog.load("metrics_summary")
    assert len(catalog.load("metrics_summary_table")) > 40

    archive_path = next((reporting / "report_archive.zip").glob("*/report_archive.zip"))
    with zipfile.ZipFile(archive_path) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("MANIFEST.json"))
        # the archived figure is byte-identical to the catalogued PNG of this run
        assert archive.read("figures/prediction_scatter.png") == catalog.load("prediction_scatter")
    expected = {f"figures/{f}.png" for f in FIGURES} | {
        "tables/metrics_summary.md", "tables/metrics_summary_table.csv", "tables/test_predictions.csv",
        "tables/gan_history.csv", "tables/real_only/training_history.csv", "tables/gan/training_history.csv",
        "tables/extraction_report.csv", "metrics/test_metrics.json", "metrics/gan_quality.json",
        "metrics/song_splits.json", "metrics/mean/baseline_model.json", "metrics/ridge/baseline_model.json",
        "MANIFEST.json",
        *(f"models/{m}/{f}" for m in ("generator", "discriminator", "real_only/trained_model", "gan/trained_model")
          for f in ("config.json", "weights.json")),  # weights named by hash (archive_model_weights: false)
    }
    assert names == expected  # baselines, splits and the discriminator too: the zip alone shows the whole result
    assert {entry["source"] for entry in manifest["members"].values()} == CONTRACT_INPUTS - {
        "mel_spectrograms", "emotion_labels", "synthetic_spectrograms", "synthetic_labels", "params:reporting",
        "params:arms", "run_lineage"} | {*FIGURES, "metrics_summary", "metrics_summary_table"}
    assert manifest["run"] == "2026-01-01T00.00.00.000Z"
    assert manifest["members"]["models/gan/trained_model/config.json"]["version"] == "2025-12-31T00.00.00.000Z"
