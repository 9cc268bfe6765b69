"""`kedro viz build` on the demo run: the static site's JSON, then the site itself in headless Chromium."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import PROJECT, run_kedro

pytestmark = pytest.mark.slow

PIPELINES = {"__default__", "data_processing", "gan_augmentation", "training", "reporting"}
FIGURES = ("spectrogram_examples", "generator_training_curves", "real_vs_synthetic", "augmented_dataset_comparison",
           "training_curves", "prediction_scatter", "va_space_comparison")
NAMED_DATASETS = {
    "mel_spectrograms", "song_splits", "generator", "synthetic_spectrograms", "real_only.trained_model",
    "gan.trained_model", "test_metrics", "metrics_summary", "report_archive", *FIGURES,
}
CONTRACT_DATASETS = {
    "mel_spectrograms", "emotion_labels", "song_splits", "synthetic_spectrograms", "synthetic_labels", "gan_history",
    "gan_quality", "generator", "real_only.trained_model", "gan.trained_model", "real_only.training_history",
    "gan.training_history", "test_predictions", "test_metrics",
}
LAYERS = {"raw", "primary", "feature", "model_input", "augmentation", "models", "model_output", "reporting"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def viz_build(demo_project) -> Path:
    """`kedro viz build --include-previews` in the demo project copy (writes <project>/build)."""
    build = demo_project.path / "build"
    shutil.rmtree(build, ignore_errors=True)
    run_kedro(demo_project.path, "viz", "build", "--include-previews", log_name="viz_build", timeout=600,
              extra_env={"KEDRO_ENV": "demo"})
    assert (build / "api" / "main").is_file(), "kedro viz build wrote no build/api/main"
    return build


@pytest.fixture(scope="module")
def viz_main(viz_build) -> dict:
    return json.loads((viz_build / "api" / "main").read_text())


def _data_nodes(viz_main: dict) -> dict[str, dict]:
    return {node["name"]: node for node in viz_main["nodes"] if node["type"] == "data"}


def test_build_has_every_pipeline_and_named_dataset(viz_main):
    assert PIPELINES <= {p["id"] for p in viz_main["pipelines"]}
    data = _data_nodes(viz_main)
    missing = NAMED_DATASETS - set(data)
    assert not missing, f"datasets absent from the kedro-viz graph: {sorted(missing)}"
    tasks = {node["name"] for node in viz_main["nodes"] if node["type"] == "task"}
    assert {"split_songs", "plot_prediction_scatter", "build_report_archive", "summarise_metrics"} <= tasks
    # every figure belongs to the reporting pipeline
    for name in FIGURES:
        assert "reporting" in data[name]["pipelines"], name


def test_build_shows_layers(viz_main, demo_project):
    # kedro-viz silently drops ALL layers when the layer graph has a cycle (it only logs a warning)
    log = (demo_project.path / "logs" / "viz_build.log").read_text(errors="replace")
    assert "circular dependency detected among layers" not in log, [
        line for line in log.splitlines() if "circular dependency" in line][:1]
    layers = viz_main["layers"]
    assert LAYERS <= set(layers)
    assert layers[0] == "raw" and layers[-1] == "reporting", layers
    data = _data_nodes(viz_main)
    expected = {"mel_spectrograms": "feature", "song_splits": "model_input", "real_only.trained_model": "models",
                "gan.trained_model": "models", "test_predictions": "model_output", "test_metrics": "reporting",
                "prediction_scatter": "reporting", "report_archive": "reporting"}
    assert {name: data[name]["layer"] for name in expected} == expected
    unlayered = sorted(name for name, node in data.items() if not node.get("layer"))
    assert not unlayered, f"datasets without a kedro-viz layer: {unlayered}"


def _node_metadata(build: Path, viz_main: dict, name: str) -> dict:
    node_id = _data_nodes(viz_main)[name]["id"]
    return json.loads((build / "api" / "nodes" / node_id).read_text())


def test_build_previews_figures_as_images_and_spectrograms_meaningfully(viz_build, viz_main):
    for name in ("prediction_scatter", "spectrogram_examples", "mel_spectrograms", "synthetic_spectrograms"):
        metadata = _node_metadata(viz_build, viz_main, name)
        assert metadata.get("preview_type") == "ImagePreview", f"{name}: {metadata.get('preview_type')}"
        assert isinstance(metadata.get("preview"), str) and metadata["preview"].startswith("iVBOR"), name  # PNG
    archive = _node_metadata(viz_build, viz_main, "report_archive")
    assert archive.get("preview_type") == "TablePreview"
    assert any(row[0] == "figures/prediction_scatter.png" for row in archive["preview"]["data"])


# ----------------------------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def served_build(viz_build):
    """The static build on 127.0.0.1 at a free port, served from a thread for this module."""
    handler = functools.partial(_QuietHandler, directory=str(viz_build))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass


def _chromium(url: str, profile: Path, *mode: str, timeout: float = 120) -> subprocess.CompletedProcess:
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", "--mute-audio", f"--user-data-dir={profile}", "--window-size=1600,1000",
        "--virtual-time-budget=20000", *mode, url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's `chromium` package (apt-get install -y chromium)")
def test_pipeline_graph_renders_in_headless_chromium(served_build, tmp_path):
    url = served_build + "?pid=__default__"
    completed = _chromium(url, tmp_path / "profile", "--dump-dom")
    dom = completed.stdout
    assert "<svg" in dom, f"no SVG graph in the page (chromium stderr: {completed.stderr[-2000:]})"
    drawn = set(re.findall(r'class="pipeline-node__text"[^>]*>([^<]+)<', dom))
    layers = re.findall(r'class="pipeline-layer-name"[^>]*>([^<]+)<', dom)
    # the contract datasets of all four pipelines, and the reporting pipeline's own nodes, are drawn
    expected = CONTRACT_DATASETS | set(FIGURES) | {"metrics_summary", "report_archive", "plot_prediction_scatter",
                                                   "summarise_metrics", "build_report_archive"}
    missing = sorted(expected - drawn)
    assert not missing, f"not drawn in the kedro-viz flowchart: {missing} (drawn: {sorted(drawn)})"
    assert LAYERS <= set(layers), f"layer bands drawn: {layers}"

    # a screenshot for humans (git-ignored screenshots/ in the repo; not asserted beyond existence)
    screenshots = PROJECT / "screenshots"
    screenshots.mkdir(exist_ok=True)
    shot = screenshots / "kedro_viz_default_pipeline.png"
    _chromium(url, tmp_path / "profile-shot", f"--screenshot={shot}")
    assert shot.is_file() and shot.stat().st_size > 10_000
