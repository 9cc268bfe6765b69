"""Library inference under faults a careless or hostile user causes: two runs at once, files changed after they
were predicted, a copied part, folders the walk cannot read, names that are not UTF-8. One row per file, always."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import Version

from music_emotion.datasets import AudioFolderDataset, ParquetPartsDataset, TorchModelDataset
from music_emotion.framework.running.library_lock import LibraryLock
from music_emotion.serving.library import run_identity
from tests.audio_fixtures import tone, write_audio
from tests.pipelines.inference.test_inference import tiny_model
from tests.pipelines.inference.test_library import _run, _windows

PROJECT = Path(__file__).resolve().parents[3]


def _songs(root: Path, n: int) -> Path:
    for i in range(n):
        write_audio(root / f"album {i % 4}" / f"song {i:03d}.wav", tone(1.0, 8000, 1, 200 + 37 * i), 8000)
    return root


@pytest.mark.slow
def test_two_runs_at_once_predict_every_file_once_and_each_summarises_a_complete_folder(tmp_path):
    root = _songs(tmp_path / "library", 40)
    model_dir = tmp_path / "model"
    TorchModelDataset(filepath=str(model_dir), version=Version(None, None)).save(tiny_model())
    env = {**os.environ, "MUSIC_EMOTION_NO_PROGRESS": "1"}
    listing = AudioFolderDataset(path=str(root), recursive=True).load()
    held = LibraryLock(run_identity(listing,
                                    TorchModelDataset(filepath=str(model_dir), version=Version(None, None)).load()))
    held.acquire()  # a third party holds the folder until both runs wait for it, so that they surely overlap
    log_files = [tmp_path / f"run{k}.log" for k in (1, 2)]
    runs = [subprocess.Popen([sys.executable, "-m", "tests.pipelines.inference.library_run", str(root),
                              str(tmp_path / "parts"), str(tmp_path / f"run{k}.csv"), str(model_dir)], cwd=PROJECT,
                             env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
            for k, log in zip((1, 2), log_files, strict=True)]
    deadline = time.monotonic() + 180
    while not all("Another run is predicting" in log.read_text() for log in log_files):  # both are waiting
        assert time.monotonic() < deadline and all(run.poll() is None for run in runs), [
            f.read_text() for f in log_files]
        time.sleep(0.2)
    held.release()
    for run in runs:
        run.wait(timeout=600)
    logs = [log.read_text() for log in log_files]
    assert all(run.returncode == 0 for run in runs), logs
    for k in (1, 2):
        summary = pd.read_csv(tmp_path / f"run{k}.csv")
        assert len(summary) == 40 and summary["file"].is_unique  # its own, complete folder
    windows = _windows(ParquetPartsDataset(path=str(tmp_path / "parts")))
    assert windows.groupby(["file", "segment"]).size().eq(1).all() and windows["file"].nunique() == 40  # once each


def test_a_file_changed_after_it_was_predicted_counts_once_with_its_new_prediction(tmp_path):
    root = _songs(tmp_path / "library", 6)
    parts = ParquetPartsDataset(path=str(tmp_path / "parts"))
    _run(root, parts)
    changed = root / "album 1" / "song 001.wav"
    write_audio(changed, tone(1.5, 8000, 1, 1800), 8000)  # re-encoded: new size and mtime
    files, _ = _run(root, parts, run="2026-01-02T00.00.00.000Z")
    assert len(files) == 6 and files["file"].is_unique
    windows = _windows(parts)
    assert (windows["file"] == "album 1/song 001.wav").sum() > 1  # predicted again, the old rows kept on disk ...
    latest = windows[windows["file"] == "album 1/song 001.wav"].iloc[-1]
    row = files.set_index("file").loc["album 1/song 001.wav"]
    assert row["valence"] == pytest.approx(latest["file_valence"])  # ... but the summary uses the new ones


def test_a_copied_part_is_not_read_twice(tmp_path):
    root = _songs(tmp_path / "library", 8)
    parts = ParquetPartsDataset(path=str(tmp_path / "parts"))
    _run(root, parts)
    (folder,) = {key.split("/")[0] for key in parts.load()}
    first = sorted((tmp_path / "parts" / folder).glob("part-*.parquet"))[0]
    shutil.copy(first, first.with_name("part-000099.parquet"))  # a duplicate left by a user or a sync tool
    files, _ = _run(root, parts)
    assert len(files) == 8 and files["file"].is_unique


def test_a_folder_the_walk_cannot_read_is_a_reported_error(tmp_path):
    root = _songs(tmp_path / "library", 4)
    locked = root / "private"
    write_audio(locked / "secret.wav", tone(1.0, 8000, 1, 300), 8000)
    locked.chmod(0o000)
    try:
        if os.geteuid() == 0:  # root reads anything: list the folder without its capabilities instead
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without util-linux's setpriv to drop capabilities")
            script = ("import sys, json; from music_emotion.datasets import AudioFolderDataset; "
                      "l = AudioFolderDataset(path=sys.argv[1], recursive=True).load(); "
                      "print(json.dumps({'files': len(l), 'problems': l.problems}))")
            done = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-all", sys.executable, "-c", script,
                                   str(root)], capture_output=True, text=True, cwd=PROJECT, check=True)
            listing = json.loads(done.stdout.strip().splitlines()[-1])
            files, problems = listing["files"], listing["problems"]
        else:
            loaded = AudioFolderDataset(path=str(root), recursive=True).load()
            files, problems = len(loaded), loaded.problems
    finally:
        locked.chmod(0o755)
    assert files == 4
    assert "cannot list this folder (Permission denied)" in problems["private/"]


def test_names_that_are_not_utf8_or_hold_a_carriage_return_are_predicted_under_a_readable_name(tmp_path):
    root = _songs(tmp_path / "library", 2)
    write_audio(root / "plain.wav", tone(1.0, 8000, 1, 500), 8000)
    os.rename(os.fsencode(root / "plain.wav"), os.fsencode(root) + b"/caf\xe9 latin-1.wav")  # Latin-1 bytes
    write_audio(root / "two\rlines.wav", tone(1.0, 8000, 1, 600), 8000)
    parts = ParquetPartsDataset(path=str(tmp_path / "parts"))
    files, errors = _run(root, parts)
    assert set(files["file"]) >= {"caf\\xe9 latin-1.wav", "two\\rlines.wav"} and errors.empty
    again, _ = _run(root, parts)  # the resume finds the same names: nothing predicted twice
    assert len(again) == 4 and (_windows(parts).groupby(["file", "segment"]).size() == 1).all()
    csv = tmp_path / "files.csv"
    files.to_csv(csv, index=False)
    assert len(csv.read_text().splitlines()) == 5  # header + 4 rows: no name splits a row
