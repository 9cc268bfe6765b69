"""Tracking in whole runs: the demo run is one MLflow run with its parameters, per-epoch ViT curves, GAN curves,
test metrics with CIs, figures and models; the experiment under ParallelRunner is one parent run with a child per
seed x fold x arm. Both against the project copy's own store (mlruns/ under it)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conf_params import parameters
from tests.e2e.conftest import SHORT_TRAINING, run_kedro

pytestmark = pytest.mark.slow

ARMS = parameters("arms", "demo")
VIT_ARMS = tuple(name for name, arm in ARMS.items() if arm["model"] in ("vit", "ast"))  # trained networks
FIGURES = {"spectrogram_examples", "generator_training_curves", "real_vs_synthetic", "augmented_dataset_comparison",
           "training_curves", "prediction_scatter", "va_space_comparison"}
EPOCHS = int(dict(item.split("=") for item in SHORT_TRAINING.split(","))["training.optimisation.epochs"])


def _client(project):
    from mlflow import MlflowClient

    store = project / "mlruns" / "mlflow.db"
    assert store.is_file(), "the demo run created no local MLflow store in the project"
    return MlflowClient(f"sqlite:///{store}")


def _runs(client, name_prefix):
    experiment = client.get_experiment_by_name("music_emotion_demo")
    return [r for r in client.search_runs([experiment.experiment_id]) if r.info.run_name.startswith(name_prefix)]


def test_the_demo_run_is_one_mlflow_run_with_curves_metrics_figures_and_models(demo_project):
    client = _client(demo_project.path)
    # the demo run (seed 42); the browser test adds a second default run with seed 7
    (run,) = [r for r in _runs(client, "__default__ (demo)") if r.data.params.get("seed") == "42"]
    assert run.info.status == "FINISHED"
    assert run.data.params["training.optimisation.epochs"] == str(EPOCHS)  # the --params override, flattened
    assert run.data.params["seed"] == "42"
    for arm in VIT_ARMS:  # one point per epoch the arm trained (the gan arm's step budget spans fewer epochs)
        history = client.get_metric_history(run.info.run_id, f"{arm}.val_ccc_mean")
        steps = [point.step for point in history]
        folder = demo_project.path / "data/demo/07_model_output" / arm / "training_history.csv"
        saved = [pd.read_csv(v / "training_history.csv")["epoch"].tolist() for v in sorted(folder.iterdir())]
        assert steps in saved and 1 <= len(steps) <= EPOCHS, arm  # one of this project's saved histories, per epoch
    assert len(client.get_metric_history(run.info.run_id, "real_only.val_ccc_mean")) == EPOCHS
    assert len(client.get_metric_history(run.info.run_id, "gan_history.conditioning_ccc_valence")) >= 2
    for arm in ARMS:
        value, low, high = (run.data.metrics[f"test.{arm}.valence.ccc{s}"] for s in ("", "_ci_low", "_ci_high"))
        assert low <= value <= high, arm
    figures = {a.path.split("/")[-1].removesuffix(".png") for a in client.list_artifacts(run.info.run_id, "figures")}
    assert figures == FIGURES
    models = {a.path.split("/")[-1] for a in client.list_artifacts(run.info.run_id, "models")}
    # arms' weights stay in data/06_models; the catalog tags below name them
    assert models == {"generator", "diffusion_generator"}
    references = {k: v for k, v in run.data.tags.items() if k.startswith("catalog.")}
    assert references and all(v.startswith("data/demo/") for v in references.values())  # relative catalog paths


def test_the_experiment_under_parallel_runner_is_one_parent_with_a_child_per_unit(demo_project):
    tiny = ("experiment.n_folds=2,experiment.n_resamples=50,"
            "experiment.overrides.training.optimisation.epochs=2,"
            "experiment.overrides.gan_augmentation.training.steps=20,"
            "experiment.overrides.gan_augmentation.training.eval_every_steps=10,"
            "experiment.overrides.diffusion_augmentation.training.steps=20,"
            "experiment.overrides.diffusion_augmentation.training.eval_every_steps=10,"
            "experiment.overrides.diffusion_augmentation.sampling.sampling_steps=2")
    run_kedro(demo_project.path, "run", "--env", "demo", "--pipelines", "experiment", "--runner", "ParallelRunner",
              "--params", tiny, log_name="experiment_tracked", extra_env={"KEDRO_MP_CONTEXT": "fork"})
    client = _client(demo_project.path)
    parent = max(_runs(client, "experiment (demo)"), key=lambda r: r.info.start_time)  # the run just made
    assert parent.info.status == "FINISHED"
    children = client.search_runs([parent.info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    arms = set(ARMS)
    units = {(c.data.params["fold"], c.data.params["arm"]) for c in children}
    assert units == {(fold, arm) for fold in ("0", "1", "pooled") for arm in arms}
    assert len(children) == len(units)  # one child each, no stray runs from worker processes
    stray = [r for r in _runs(client, "") if r.data.tags.get("mlflow.parentRunId") is None
             and not r.info.run_name.endswith("(demo)")]  # a worker's own run would have a random name
    assert stray == []
    assert all("valence.ccc" in c.data.metrics for c in children)
