"""`kedro run --env demo`: every pipeline end to end, every output catalogued, versioned and kept."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from tests.conf_params import parameters

from .conftest import catalog_outputs, snapshot

pytestmark = pytest.mark.slow

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$")
PIPELINES = ("data_processing", "gan_augmentation", "training", "reporting")
MODELS = set(parameters("arms", "demo"))  # the arms of conf/base/parameters.yml (the ViT and AST arms, baselines)
FIGURES = ("spectrogram_examples", "generator_training_curves", "real_vs_synthetic", "augmented_dataset_comparison",
           "training_curves", "prediction_scatter", "va_space_comparison")


def _versions(project: Path, filepath: str) -> list[str]:
    folder = project / filepath
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def outputs(demo_project):
    return catalog_outputs(demo_project.path)


def test_every_default_output_is_catalogued_versioned_and_written(demo_project, outputs):
    assert set(FIGURES) | {"metrics_summary", "metrics_summary_table", "report_archive", "mel_spectrograms",
                           "generator", "real_only.trained_model", "gan.trained_model", "test_metrics"} <= set(outputs)
    problems = []
    for name, entry in outputs.items():
        if entry["memory"] or entry["type"] == "NoneType":
            problems.append(f"{name}: not in the catalog (would be lost after the run)")
        elif not entry["versioned"]:
            problems.append(f"{name}: {entry['type']} is not versioned")
        elif not entry["exists"]:
            problems.append(f"{name}: nothing written at {entry['filepath']}")
    assert not problems, "\n".join(problems)

    # timestamped version folders holding the file; the first run saved everything under one version
    first_versions = set()
    for name, entry in outputs.items():
        versions = _versions(demo_project.path, entry["filepath"])
        assert versions and all(TIMESTAMP.match(v) for v in versions), f"{name}: versions {versions}"
        filepath = Path(entry["filepath"])
        assert (demo_project.path / filepath / versions[0] / filepath.name).exists(), name
        assert Path(entry["load_path"]).parent.name == versions[-1], f"{name} does not load its latest version"
        first_versions.add(versions[0])
    assert len(first_versions) == 1, f"outputs of one run carry different versions: {sorted(first_versions)}"


def test_demo_metrics_summary_lists_every_model(demo_project, outputs):
    markdown = (demo_project.path / outputs["metrics_summary"]["load_path"]).read_text()
    for model in MODELS:
        assert f"| {model} | valence |" in markdown and f"| {model} | arousal |" in markdown, model
    assert re.search(r"\| -?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\] \|", markdown), "cells carry 95 % CIs"
    table = pd.read_csv(demo_project.path / outputs["metrics_summary_table"]["load_path"])
    assert set(table.loc[table["section"] == "test_metrics", "name"]) == MODELS
    assert (table["section"] == "gan_quality").sum() > 0 and (table["section"] == "diffusion_quality").sum() > 0
    assert "## Diffusion quality" in markdown and "diffusion: " in markdown.split("## Generator check")[1]


def test_demo_report_archive_holds_this_runs_artefacts(demo_project, outputs):
    with zipfile.ZipFile(demo_project.path / outputs["report_archive"]["load_path"]) as archive:
        names = set(archive.namelist())
        for figure in FIGURES:
            stored = (demo_project.path / outputs[figure]["load_path"]).read_bytes()
            assert archive.read(f"figures/{figure}.png") == stored, figure
        metrics = json.loads(archive.read("metrics/test_metrics.json"))
    assert set(metrics) == MODELS
    for model in ("generator", "discriminator", "diffusion_generator", "real_only/trained_model",
                  "gan/trained_model", "diffusion/trained_model"):
        assert {f"models/{model}/config.json", f"models/{model}/weights.json"} <= names  # weights by SHA-256
    assert {"tables/metrics_summary.md", "tables/metrics_summary_table.csv", "MANIFEST.json"} <= names


def test_second_run_adds_new_versions_and_keeps_the_first(demo_project, outputs, second_demo_run):
    """Re-running the demo (with seed 7, as a user comparing seeds does) adds a version next to each versioned
    output; nothing of the first run changes (same bytes, same modification time)."""
    project, first = demo_project.path, demo_project.data_after_first_run
    now = snapshot(project / "data")
    changed = [path for path, state in first.items() if now.get(path) != state]
    assert not changed, f"the second run touched files of the first: {changed[:10]}"
    versioned = {name: entry["filepath"] for name, entry in outputs.items() if entry["versioned"]}
    assert versioned
    for name, filepath in versioned.items():
        folder = (project / filepath).relative_to(project / "data").as_posix()
        before = sorted({key[len(folder) + 1:].split("/")[0] for key in first if key.startswith(folder + "/")})
        after = _versions(project, filepath)
        added = sorted(set(after) - set(before))
        assert len(added) == 1 and added[0] > before[-1], f"{name}: {before} -> {after}"


def test_default_run_ran_every_pipeline(demo_project, record_property):
    """All four pipelines ran in `kedro run --env demo`. The wall time is recorded, not asserted
    (README: target <= 10 min on 2 cores)."""
    record_property("demo_data_seconds", round(demo_project.wall_seconds["demo_data"], 1))
    record_property("default_run_seconds", round(demo_project.wall_seconds["default"], 1))
    assert set(demo_project.wall_seconds) == {"demo_data", "default"}
    assert (demo_project.path / "logs" / "default_run.log").is_file()
    log = (demo_project.path / "logs" / "default_run.log").read_text(errors="replace")
    import importlib

    for pipeline_name in PIPELINES:
        module = importlib.import_module(f"music_emotion.pipelines.{pipeline_name}")
        for node in module.create_pipeline().nodes:
            assert f"Completed node: {node.name}" in log, f"{pipeline_name}: node {node.name} did not run"


def test_the_demo_shows_none_of_our_dependencies_warnings(demo_project):
    """A user sees our messages, not omegaconf's, FastAPI's or mlflow's (the first-hour issue)."""
    import re

    for name in ("demo_data", "default_run"):
        text = (demo_project.path / "logs" / f"{name}.log").read_text(errors="replace")
        leaked = [line for line in text.splitlines() if re.search(r"\b[A-Z]\w*Warning: ", line)]
        assert leaked == [], name


def test_the_demo_log_is_ours(demo_project):
    """The first command's log (the first-hour issue, round two): no traceback, no dependency's warning, no Dask
    chatter, at most 200 lines, and our own summary at the end."""
    import re

    lines = (demo_project.path / "logs" / "default_run.log").read_text(errors="replace").splitlines()
    assert len(lines) <= 200, f"{len(lines)} lines"
    assert not [line for line in lines if "Traceback" in line]
    assert not [line for line in lines if re.search(r"\bWARNING\s+(?!music_emotion)[\w.]+:", line)]
    assert not [line for line in lines if "distributed." in line]
    assert not [line for line in lines if "as logging configuration" in line]  # Kedro's four wrapped lines
    tail = "\n".join(lines[-15:])
    assert "TEST CCC  real_only" in tail and "GAN       conditioning CCC" in tail and "Saved     report_archive" in tail
