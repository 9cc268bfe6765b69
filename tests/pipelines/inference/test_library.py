"""Library inference: Dask and one process agree, an interrupted run resumes with every file exactly once, bad
entries of every kind end up in the errors table while the others are predicted, engine failures are clear."""

from __future__ import annotations

import os
import time

import pandas as pd
import pytest

from music_emotion.audio.engine import (
    EngineError,
    EngineFailure,
    EngineParams,
    FileEngine,
    close_shared_clusters,
)
from music_emotion.datasets import AudioFolderDataset, ParquetPartsDataset
from music_emotion.pipelines.inference.nodes import predict_library, summarise_library
from tests.audio_fixtures import tone, write_audio
from tests.pipelines.inference.test_inference import NO_RUN, PARAMS, SINGLE, tiny_model

DASK = {**SINGLE, "engine": "dask", "n_workers": 2}


@pytest.fixture
def library(tmp_path):
    """Seven songs in nested folders, and one of each bad entry a real library holds."""
    root = tmp_path / "library"
    for i in range(7):
        write_audio(root / f"artist {i % 2}" / f"album {i % 3}" / f"song {i}.wav",
                    tone(1.5 + 0.5 * (i % 3), 8000, 1, 200 + 150 * i), 8000)
    (root / "broken.mp3").write_bytes(b"not audio" * 50)
    (root / "empty.flac").write_bytes(b"")
    (root / "folder.mp3").mkdir()                                 # a directory named like an audio file
    (root / "gone.ogg").symlink_to(tmp_path / "nowhere.ogg")      # a dangling link
    (root / "loop").symlink_to(root)                              # a link loop: must not trap the walk
    return root


def _run(root, parts, params=PARAMS, engine=SINGLE, stop_after=None, run="2026-01-01T00.00.00.000Z"):
    """predict_library as Kedro runs it: every yielded part saved; `stop_after` parts then 'killed'."""
    listing = AudioFolderDataset(path=str(root), recursive=True).load()
    model = tiny_model()
    for n, part in enumerate(predict_library(listing, model, parts.load(), params, engine, "cpu",
                                             {"run": run, "input_versions": {}})):
        parts.save(part)
        if stop_after is not None and n + 1 >= stop_after:
            break  # the generator is abandoned mid-run, as a kill would leave it
    return summarise_library(parts.load(), listing, model)


def _windows(parts) -> pd.DataFrame:
    table = pd.concat([load() for _, load in sorted(parts.load().items())], ignore_index=True)
    return table.sort_values(["file", "segment"], kind="stable").reset_index(drop=True)


def test_every_bad_entry_is_reported_and_every_song_predicted(library, tmp_path):
    files, errors = _run(library, ParquetPartsDataset(path=str(tmp_path / "parts")))
    reasons = dict(zip(errors["file"], errors["reason"], strict=True))
    assert set(reasons) == {"broken.mp3", "empty.flac", "folder.mp3", "gone.ogg"}
    assert reasons["folder.mp3"] == "a folder named like an audio file"
    assert reasons["gone.ogg"] == "a link to a file that does not exist"
    assert reasons["empty.flac"] == "empty file (0 bytes)"
    songs = files[files["status"] != "skipped"]
    assert len(songs) == 7 and songs["file"].str.startswith("artist ").all()  # relative paths, nested folders
    assert songs[["valence", "arousal"]].abs().max().max() <= 1.0


def test_a_file_that_vanishes_mid_run_is_reported_and_the_rest_goes_on(library, tmp_path):
    listing = AudioFolderDataset(path=str(library), recursive=True).load()
    gone = library / "artist 0" / "album 0" / "song 0.wav"
    os.remove(gone)  # listed, then deleted before it is decoded
    parts = ParquetPartsDataset(path=str(tmp_path / "parts"))
    for part in predict_library(listing, tiny_model(), {}, PARAMS, SINGLE, "cpu", NO_RUN):
        parts.save(part)
    files, errors = summarise_library(parts.load(), listing, tiny_model())
    assert "cannot open file" in errors.set_index("file").loc["artist 0/album 0/song 0.wav", "reason"]
    assert (files["status"] != "skipped").sum() == 6


def test_an_interrupted_run_resumes_and_predicts_every_file_exactly_once(library, tmp_path):
    parts = ParquetPartsDataset(path=str(tmp_path / "parts"))
    _run(library, parts, stop_after=2)  # 2 of 6 batches of 2 entries written, then "killed"
    assert len(parts.load()) == 2
    (tmp_path / "parts").joinpath("2026-01-01T00.00.00.000Z_x").mkdir()  # another identity's folder: ignored
    files, _ = _run(library, parts, run="2026-01-02T00.00.00.000Z")
    windows = _windows(parts)
    assert len({key.split("/")[0] for key in parts.load()}) == 1  # the resumed run continued the same folder
    per_file = windows.groupby("file")["segment"].apply(lambda s: s.fillna(0).is_unique)
    assert per_file.all() and len(per_file) == 11  # every entry once: 7 songs + 4 bad entries
    assert len(files) == 11

    fresh = {**PARAMS, "resume": False}
    _run(library, parts, params=fresh, run="2026-01-03T00.00.00.000Z")
    folders = {key.split("/")[0] for key in parts.load()}
    assert len(folders) == 2 and any(f.startswith("2026-01-03") for f in folders)  # a new version, old kept


def test_a_half_written_part_is_never_read(library, tmp_path):
    parts = ParquetPartsDataset(path=str(tmp_path / "parts"))
    _run(library, parts, stop_after=1)
    (folder,) = {key.split("/")[0] for key in parts.load()}
    (tmp_path / "parts" / folder / "part-000002.parquet.partial").write_bytes(b"PAR1 truncated")
    files, _ = _run(library, parts)
    assert len(files) == 11


@pytest.mark.slow
def test_dask_and_one_process_give_identical_predictions(library, tmp_path):
    single = ParquetPartsDataset(path=str(tmp_path / "single"))
    dask = ParquetPartsDataset(path=str(tmp_path / "dask"))
    _run(library, single, engine=SINGLE)
    _run(library, dask, engine=DASK)
    pd.testing.assert_frame_equal(_windows(single).drop(columns="run"), _windows(dask).drop(columns="run"))


@pytest.mark.slow
def test_a_worker_that_dies_is_retried_once_then_reported():
    def decode(item: str) -> str:
        if item == "poison":
            os._exit(1)  # the worker process dies, as an out-of-memory kill or a decoder crash would
        return item.upper()

    params = EngineParams.from_params(DASK)
    with FileEngine(params, 3, 1.0) as engine:
        (results,) = list(engine.map_batches(decode, [["a", "poison", "b"]]))
    assert results[0] == "A" and results[2] == "B"
    assert isinstance(results[1], EngineFailure) and "died" in results[1].reason


def test_an_unreachable_scheduler_is_a_clear_error_within_seconds():
    params = EngineParams.from_params({**DASK, "scheduler_address": "tcp://127.0.0.1:9", "connect_timeout_s": 2})
    start = time.perf_counter()
    with pytest.raises(EngineError, match=r"(?s)tcp://127\.0\.0\.1:9 did not answer within 2 s.*scheduler_address"):
        FileEngine(params, 100, 1.0).__enter__()
    assert time.perf_counter() - start < 20  # a bound on hanging, not a speed measurement


def test_an_address_where_something_else_listens_fails_as_fast_naming_it():
    """An HTTP server accepts the connection and then waits for a request: Dask's Client alone would wait forever."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    server = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.server_port}"
    params = EngineParams.from_params({**DASK, "scheduler_address": address, "connect_timeout_s": 2})
    start = time.perf_counter()
    try:
        with pytest.raises(EngineError, match=rf"(?s)the Dask scheduler at {address} .*scheduler_address"):
            FileEngine(params, 100, 1.0).__enter__()
    finally:
        server.shutdown()
    assert time.perf_counter() - start < 20  # a bound on hanging, not a speed measurement


def test_one_process_engine_reports_a_failing_item_and_goes_on():
    def decode(item: str) -> str:
        if item == "bad":
            raise MemoryError("simulated")
        return item

    with FileEngine(EngineParams.from_params(SINGLE), 3, 1.0) as engine:
        (results,) = list(engine.map_batches(decode, [["a", "bad", "c"]]))
    assert results[0] == "a" and results[2] == "c" and results[1] == EngineFailure("MemoryError: simulated")


@pytest.mark.parametrize("n_files, seconds, kind", [(127, 12.0, "single"), (100, 45.0, "single"), (200, 45.0, "dask")])
def test_auto_picks_one_process_below_the_measured_crossover_and_says_why(n_files, seconds, kind, caplog):
    from tests.conf_params import parameters

    engine = FileEngine(EngineParams.from_params(parameters("dask")), n_files, seconds)
    assert engine.kind == kind  # the demo (127 x 12 s) and 100 DEAM clips stay in one process; 200 clips use Dask
    assert f"{n_files} file(s)" in engine.reason and "dask.min_audio_seconds" in engine.reason


def test_one_run_starts_one_cluster_for_all_its_steps():
    params = EngineParams.from_params(DASK)
    with FileEngine(params, 3, 1.0) as first:
        client = first._client
        # local workers keep glibc's default memory trimming: Dask's 64 KiB threshold halves torch's speed there
        assert set(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()) == {None}
    with FileEngine(params, 3, 1.0) as second:
        assert second._client is client  # the AST features reuse the log-mel extraction's cluster
    close_shared_clusters()
    with FileEngine(params, 3, 1.0) as third:
        assert third._client is not client


def test_auto_reckons_the_audio_of_whole_files_from_their_headers(tmp_path):
    from music_emotion.audio.engine import whole_files_seconds
    from tests.audio_fixtures import tone, write_audio

    paths = [write_audio(tmp_path / f"{i}.wav", tone(30.0, 8000, 1, 300), 8000) for i in range(3)]
    (tmp_path / "broken.wav").write_bytes(b"no audio")
    assert whole_files_seconds([*paths, tmp_path / "broken.wav"], enough=1e9) == pytest.approx(90.0)
    assert whole_files_seconds(paths, enough=10.0) == pytest.approx(30.0)  # stops reading once auto can decide
    params = EngineParams.from_params({**SINGLE, "engine": "auto", "min_audio_seconds": 7200})
    engine = FileEngine(params, 3, 45.0, whole_files_seconds(paths, 7200))
    assert engine.kind == "single" and "3 file(s), ~1.5 min of audio" in engine.reason
