"""`kedro run --env demo --pipelines inference` on the demo songs with the demo's gan model, then the same command
again: the second run resumes the first run folder and predicts nothing twice."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.e2e.conftest import run_kedro

pytestmark = pytest.mark.slow


def _latest(folder):
    (path,) = sorted(folder.glob("*/*"))[-1:]
    return pd.read_csv(path)


def test_library_inference_on_the_demo_songs_resumes_without_repeating_a_file(demo_project):
    project = demo_project.path
    run_kedro(project, "run", "--env", "demo", "--pipelines", "inference", log_name="inference_first")
    run_kedro(project, "run", "--env", "demo", "--pipelines", "inference", log_name="inference_again")
    output = project / "data" / "demo"
    parts = sorted((output / "07_model_output" / "library_predictions").glob("*/*.parquet"))
    assert len({p.parent for p in parts}) == 1  # one run folder, continued by the second run
    windows = pd.concat([pd.read_parquet(p, columns=["file", "segment"]) for p in parts])
    assert not windows.duplicated().any()  # no file predicted twice
    files = _latest(output / "07_model_output" / "inference_predictions.csv")
    errors = _latest(output / "08_reporting" / "library_errors.csv")
    songs = list((project / "data" / "01_raw" / "demo_deam" / "MEMD_audio").glob("*.mp3"))
    assert len(files) == windows["file"].nunique() == len(songs) >= 70
    assert len(errors) >= 1 and errors["reason"].str.len().gt(0).all()  # the demo's deliberately broken mp3
    assert files.loc[files["status"] != "skipped", ["valence", "arousal"]].abs().max().max() <= 1.0
    again = (project / "logs" / "inference_again.log").read_text()
    assert "Library done: 0 predicted" in again and "0 to do" in again


def test_predict_command_uses_the_arm_it_is_given(demo_project):
    """`--model real_only` and `--model gan` read their own saved models (they differ), a mistyped arm stops
    with the arms there are, and the table on stdout holds no log line."""
    import subprocess
    import sys

    from tests.e2e.conftest import subprocess_env

    project = demo_project.path
    song = sorted((project / "data" / "01_raw" / "demo_deam" / "MEMD_audio").glob("*.mp3"))[0]

    def predict(arm):
        command = "import sys; from music_emotion.serving.cli import main; sys.exit(main(sys.argv[1:]))"
        return subprocess.run([sys.executable, "-c", command, "predict", str(song), "--model", arm, "--env", "demo",
                               "--device", "cpu"], cwd=project, env=subprocess_env(), capture_output=True,
                              text=True, timeout=300, check=False)

    tables = {}
    for arm in ("real_only", "gan"):
        done = predict(arm)
        assert done.returncode == 0, done.stderr[-2000:]
        header, row = done.stdout.strip().splitlines()
        tables[arm] = row.split()[1:3]
    assert tables["real_only"] != tables["gan"]
    wrong = predict("nosucharm")
    assert wrong.returncode == 2 and "not an arm of this project" in wrong.stderr and "'real_only'" in wrong.stderr


def test_published_command_prints_every_arms_test_r2_beside_the_published_figures(demo_project):
    import subprocess
    import sys

    from tests.conf_params import parameters
    from tests.e2e.conftest import subprocess_env

    command = "import sys; from music_emotion.serving.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", command, "published", "--env", "demo"], cwd=demo_project.path,
                          env=subprocess_env(), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "a seeded stratified split" in done.stdout
    for arm in parameters("arms", "demo"):
        assert f"| {arm} (this run) |" in done.stdout, arm
    assert "| 0.513 | 0.603 |" in done.stdout and "arXiv 2502.03979" in done.stdout
