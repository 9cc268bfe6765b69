"""Pre-flight input check: missing inputs stop a run with one clear line each, not a stack trace."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline

from music_emotion.datasets import AudioFolderDataset, SpectrogramDataset
from music_emotion.framework.hooks import InputCheckHooks, MissingInputsError

PROJECT = Path(__file__).resolve().parents[1]


def _pipeline(*inputs):
    return Pipeline([Node(lambda *args: 1, inputs=list(inputs), outputs="out", name="uses_inputs")])


def test_missing_inputs_are_listed_with_location_and_remedy(tmp_path):
    catalog = DataCatalog({
        "present": MemoryDataset(1),
        "deam_audio": AudioFolderDataset(path=str(tmp_path / "MEMD_audio"), missing_hint="Download DEAM first."),
        "mel_spectrograms": SpectrogramDataset(filepath=str(tmp_path / "mel.npy"), version=None),
    })
    pipeline = _pipeline("present", "deam_audio", "mel_spectrograms", "params:seed")
    with pytest.raises(MissingInputsError) as caught:
        InputCheckHooks().before_pipeline_run({"env": "demo"}, pipeline, catalog)
    message = caught.value.message
    assert "2 input(s) do not exist yet or are empty" in message and "env 'demo'" in message
    assert f"deam_audio ({tmp_path / 'MEMD_audio'}): Download DEAM first." in message
    assert "mel_spectrograms" in message and "kedro run --env demo --pipelines data_processing" in message
    assert "present" not in message and "params:seed" not in message


def test_a_run_whose_inputs_exist_starts(tmp_path):
    (tmp_path / "MEMD_audio").mkdir()
    (tmp_path / "MEMD_audio" / "2.mp3").write_bytes(b"x")
    catalog = DataCatalog({"deam_audio": AudioFolderDataset(path=str(tmp_path / "MEMD_audio"))})
    assert InputCheckHooks().before_pipeline_run({"env": "base"}, _pipeline("deam_audio"), catalog) is None
    (tmp_path / "MEMD_audio" / "2.mp3").unlink()  # the same run without its one song is stopped
    with pytest.raises(MissingInputsError, match="deam_audio"):
        InputCheckHooks().before_pipeline_run({"env": "base"}, _pipeline("deam_audio"), catalog)


def test_an_empty_audio_folder_stops_the_run_before_any_node(tmp_path):
    (tmp_path / "my_music").mkdir()
    (tmp_path / "my_music" / "notes.txt").write_text("not audio")
    catalog = DataCatalog({"inference_audio": AudioFolderDataset(
        path=str(tmp_path / "my_music"), missing_hint="Put your audio files in it.")})
    with pytest.raises(MissingInputsError) as caught:
        InputCheckHooks().before_pipeline_run({"env": "base"}, _pipeline("inference_audio"), catalog)
    assert f"inference_audio ({tmp_path / 'my_music'}): the folder holds no audio file (.mp3" in caught.value.message
    assert "Put your audio files in it." in caught.value.message


def _kedro_in_a_copy(tmp_path, *args: str) -> tuple[int, str]:
    """`kedro <args>` in a copy of the project without conf/local: (exit code, stdout + stderr)."""
    for name in ("conf", "src", "pyproject.toml", ".telemetry"):
        source = PROJECT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif source.exists():
            shutil.copy2(source, tmp_path / name)
    shutil.rmtree(tmp_path / "conf" / "local", ignore_errors=True)
    (tmp_path / "conf" / "local").mkdir()
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "MUSIC_EMOTION_NO_PROGRESS": "1"}
    completed = subprocess.run([sys.executable, "-m", "kedro", *args], cwd=tmp_path,
                               env=env, capture_output=True, text=True, timeout=300, check=False)
    return completed.returncode, completed.stdout + completed.stderr


def test_kedro_run_without_deam_prints_a_short_error_and_exits_1(tmp_path, monkeypatch):
    store = tmp_path / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    code, output = _kedro_in_a_copy(tmp_path, "run", "--pipelines", "data_processing")
    assert code == 1, output[-2000:]
    assert "Error: this run cannot start" in output
    assert "deam_audio" in output and "kedro run --env demo --pipelines demo_data" in output
    assert "Traceback" not in output and "╭" not in output  # no (rich) stack trace
    if store.exists():  # the check runs before tracking starts: no MLflow run is left behind, KILLED or other
        import mlflow

        assert mlflow.MlflowClient(f"sqlite:///{store}").search_runs(
            [e.experiment_id for e in mlflow.MlflowClient(f"sqlite:///{store}").search_experiments()]) == []


def test_hints_repeat_the_users_env_and_name_a_pinned_version_that_does_not_exist(tmp_path):
    dataset = SpectrogramDataset(filepath=str(tmp_path / "mel.npy"), version=None)
    (tmp_path / "mel.npy" / "2026-11-25T10.00.00.000Z").mkdir(parents=True)
    catalog = DataCatalog({"mel_spectrograms": dataset})
    with pytest.raises(MissingInputsError) as caught:
        InputCheckHooks().before_pipeline_run({"env": "demo"}, _pipeline("mel_spectrograms"), catalog)
    assert "`kedro run --env demo --pipelines data_processing`" in caught.value.message
    pinned = {"mel_spectrograms": "2020-01-01T00.00.00.000Z"}
    with pytest.raises(MissingInputsError) as caught:
        InputCheckHooks().before_pipeline_run({"env": "demo", "load_versions": pinned},
                                              _pipeline("mel_spectrograms"), catalog)
    message = caught.value.message
    assert "the version 2020-01-01T00.00.00.000Z pinned with --load-versions does not exist" in message
    assert "2026-11-25T10.00.00.000Z" in message and "data_processing" not in message


def test_a_mistyped_pipeline_name_is_one_line_with_a_suggestion(tmp_path):
    code, output = _kedro_in_a_copy(tmp_path, "run", "--env", "demo", "--pipelines", "data_procesing")
    assert code == 1, output[-2000:]
    assert "Error: no pipeline named 'data_procesing' (did you mean 'data_processing'?)" in output
    assert "Traceback" not in output and "╭" not in output


def test_an_unreachable_hub_checkpoint_stops_the_run_before_any_node(monkeypatch, tmp_path):
    """The base AST arm offline: one paragraph naming the parameter and the `hf download` line, before the first
    node, and once per checkpoint however many arms train on it."""
    from music_emotion.framework.running.bound_function import BoundFunction
    from music_emotion.framework.running.run_parameters import run_parameters, set_run_parameters
    from music_emotion.study.arm_fitting import train_arm

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import copy

    params = run_parameters()
    offline = copy.deepcopy(params)  # whatever env an earlier test left: the base AST arm's hub checkpoint
    offline["training"]["ast"]["checkpoint"] = "MIT/ast-finetuned-audioset-10-10-0.4593"
    offline["arms"] = {"ast": {"model": "ast"}, "ast_b": {"model": "ast"}, "mean": {"model": "mean_baseline"}}
    try:
        set_run_parameters(offline)
        nodes = [Node(BoundFunction(train_arm, arm_name=arm), inputs=[
            "mel_spectrograms", "emotion_labels", "song_splits", f"params:arms.{arm}", "params:training",
            "params:seed", "params:device"], outputs=[f"{arm}.model", f"{arm}.history"], name=arm)
                 for arm in ("ast", "ast_b")]
        with pytest.raises(MissingInputsError) as caught:
            InputCheckHooks().before_pipeline_run({"env": None}, Pipeline(nodes), DataCatalog({}))
    finally:
        set_run_parameters(params)
    message = caught.value.message
    assert message.count("hf download MIT/ast-finetuned-audioset-10-10-0.4593 --local-dir") == 1
    assert "training.ast.checkpoint" in message and "HF_HUB_OFFLINE is set" in message


def test_a_random_init_or_local_checkpoint_needs_no_hub(monkeypatch, tmp_path):
    from music_emotion.models.backbone_loading import checkpoint_problem

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert checkpoint_problem("vit", None, 1.0) == ""
    (tmp_path / "vit").mkdir()
    assert "has no config.json" in checkpoint_problem("vit", str(tmp_path / "vit"), 1.0)
    (tmp_path / "vit" / "config.json").write_text("{}")
    assert checkpoint_problem("vit", str(tmp_path / "vit"), 1.0) == ""


def test_the_experiments_arms_are_checked_for_their_checkpoints_too(monkeypatch, tmp_path):
    """The experiment's fitting nodes name their arm as `arm` / `arms`, not `arm_name`: its AST arm's unreachable
    checkpoint must stop `--pipelines experiment` before any node, as it stops the single split."""
    import copy

    from music_emotion.framework.hooks import checkpoint_problems
    from music_emotion.framework.running.run_parameters import run_parameters, set_run_parameters
    from music_emotion.pipelines.experiment.pipeline import create_pipeline

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    params = run_parameters()
    offline = copy.deepcopy(params)
    offline["training"]["ast"]["checkpoint"] = "MIT/ast-finetuned-audioset-10-10-0.4593"
    offline["training"]["model"]["checkpoint"] = None  # random init: the ViT arm needs nothing from the hub
    offline["experiment"].update(n_folds=2, n_seeds=1, arms=["real_only", "ast"])
    try:
        set_run_parameters(offline)
        problems = checkpoint_problems(create_pipeline())
    finally:
        set_run_parameters(params)
    assert len(problems) == 1 and "hf download MIT/ast-finetuned-audioset-10-10-0.4593 --local-dir" in problems[0]


@pytest.mark.parametrize("pipeline_name", ["data_processing", "experiment"])
def test_the_embedding_arms_encoder_checkpoint_is_checked_offline(monkeypatch, tmp_path, pipeline_name):
    """The frozen encoder runs in data_processing; `--pipelines experiment` (which reads its embeddings) names it
    too, so an offline machine learns before any node what to download."""
    import copy
    import importlib

    from music_emotion.framework.hooks import checkpoint_problems
    from music_emotion.framework.running.run_parameters import run_parameters, set_run_parameters

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    params = run_parameters()
    offline = copy.deepcopy(params)
    offline["data_processing"]["embeddings"]["checkpoint"] = "laion/larger_clap_music"
    offline["training"]["model"]["checkpoint"] = None
    offline["arms"] = {"real_only": {"model": "vit"}, "clap_probe": {"model": "embedding", "probe": "ridge"}}
    offline["training"]["arms"] = None
    offline["experiment"].update(n_folds=2, n_seeds=1, arms=["real_only", "clap_probe"])
    try:
        set_run_parameters(offline)
        module = importlib.import_module(f"music_emotion.pipelines.{pipeline_name}.pipeline")
        problems = checkpoint_problems(module.create_pipeline())
    finally:
        set_run_parameters(params)
    assert len(problems) == 1, problems
    assert "data_processing.embeddings.checkpoint" in problems[0]
    assert "hf download laion/larger_clap_music --local-dir data/06_models/pretrained/clap" in problems[0]
