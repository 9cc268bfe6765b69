"""SpectrogramDataset: round trip, memory mapping, versioning without overwrite, preview."""

import base64
import json

import numpy as np
import pytest
from kedro.io import DatasetError, Version

from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.datasets import SpectrogramDataset


def make_set(n=4, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.uniform(-80, 0, size=(n, 8, 20)).astype(np.float32)
    return SpectrogramSet(ids=list(range(10, 10 + n)), values=values, meta={"extraction": {"n_mels": 8}})


def test_round_trip_is_memory_mapped_and_keeps_ids(tmp_path):
    data = make_set()
    dataset = SpectrogramDataset(filepath=str(tmp_path / "mel.npy"), version=Version(None, None))
    dataset.save(data)
    loaded = dataset.load()
    assert isinstance(loaded.values, np.memmap)
    assert loaded.ids == data.ids
    assert loaded.meta == data.meta
    np.testing.assert_array_equal(loaded.values, data.values)
    with pytest.raises(ValueError):
        loaded.values[0, 0, 0] = 1.0  # read-only: nothing downstream can corrupt the stored array


def test_sidecar_holds_ids_and_shape(tmp_path):
    dataset = SpectrogramDataset(filepath=str(tmp_path / "mel.npy"), version=Version(None, "2026-01-01T00.00.00.000Z"))
    dataset.save(make_set(n=3))
    header = json.loads((tmp_path / "mel.npy" / "2026-01-01T00.00.00.000Z" / "mel.json").read_text())
    assert header["ids"] == [10, 11, 12]
    assert header["shape"] == [3, 8, 20]


def test_a_second_save_adds_a_version_and_leaves_the_first_alone(tmp_path):
    path = str(tmp_path / "mel.npy")
    first = SpectrogramDataset(filepath=path, version=Version(None, "2026-01-01T00.00.00.000Z"))
    first.save(make_set(seed=1))
    first_file = tmp_path / "mel.npy" / "2026-01-01T00.00.00.000Z" / "mel.npy"
    before = first_file.read_bytes()
    SpectrogramDataset(filepath=path, version=Version(None, "2026-01-02T00.00.00.000Z")).save(make_set(seed=2))
    assert first_file.read_bytes() == before
    latest = SpectrogramDataset(filepath=path, version=Version(None, None)).load()
    np.testing.assert_array_equal(latest.values, make_set(seed=2).values)
    pinned = SpectrogramDataset(filepath=path, version=Version("2026-01-01T00.00.00.000Z", None)).load()
    np.testing.assert_array_equal(pinned.values, make_set(seed=1).values)
    with pytest.raises(DatasetError):  # Kedro refuses to overwrite an existing version
        SpectrogramDataset(filepath=path, version=Version(None, "2026-01-01T00.00.00.000Z")).save(make_set())


def test_preview_is_a_png_image(tmp_path):
    dataset = SpectrogramDataset(filepath=str(tmp_path / "mel.npy"), version=Version(None, None))
    dataset.save(make_set())
    png = base64.b64decode(dataset.preview())
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_version_has_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="mel"):
        SpectrogramDataset(filepath=str(tmp_path / "mel.npy"), version=Version(None, None)).load()


def test_spectrogram_set_refuses_misaligned_ids():
    with pytest.raises(ValueError, match="ids"):
        SpectrogramSet(ids=[1, 2], values=np.zeros((3, 2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="unique"):
        SpectrogramSet(ids=[1, 1], values=np.zeros((2, 2, 2), dtype=np.float32))
    data = make_set()
    with pytest.raises(KeyError, match="no spectrogram"):
        data.indices_of([10, 999])
    assert data.subset([12, 10]).ids == [12, 10]


def test_a_half_written_version_is_never_loaded_as_latest(tmp_path, caplog):
    """A kill between the two files of a save (array without sidecar) must not become 'latest'."""
    import time

    from kedro.io import Version

    from music_emotion.data.spectrograms import SpectrogramSet as _Set

    dataset = SpectrogramDataset(filepath=str(tmp_path / "mel.npy"), version=Version(None, None))
    good = _Set(ids=[1, 2], values=np.zeros((2, 3, 4), np.float32), meta={})
    dataset.save(good)
    time.sleep(0.01)
    later = tmp_path / "mel.npy" / "2999-01-01T00.00.00.000Z"  # newer than any real version
    later.mkdir()
    np.save(later / "mel.npy", np.ones((2, 3, 4), np.float32))  # ... but its sidecar was never written
    reader = SpectrogramDataset(filepath=str(tmp_path / "mel.npy"), version=Version(None, None))
    with caplog.at_level("WARNING"):
        loaded = reader.load()
    assert float(np.asarray(loaded.values).max()) == 0.0  # the complete, older version
    assert "incomplete spectrogram version" in caplog.text and "2999-01-01T00.00.00.000Z" in caplog.text
    assert not list((tmp_path / "mel.npy").glob("*/*.partial.npy"))  # saves leave no temporary file


def test_saving_a_float64_set_stores_float32_rows_across_chunks(tmp_path):
    values = np.random.default_rng(1).uniform(-80, 0, size=(150, 8, 20))  # float64, 3 chunks of 64 rows
    dataset = SpectrogramDataset(filepath=str(tmp_path / "mel.npy"), version=Version(None, None))
    dataset.save(SpectrogramSet(ids=list(range(150)), values=values))
    loaded = dataset.load()
    assert loaded.values.dtype == np.float32 and loaded.values.shape == (150, 8, 20)
    np.testing.assert_array_equal(loaded.values, values.astype(np.float32))


def test_saving_adds_no_second_copy_of_the_array_to_the_process(tmp_path):
    """The rehearsal's AST features (4.1 GB) were written through a memory map, whose pages stayed in the process:
    its peak RSS was the array twice. Saving now holds at most a chunk beyond the array itself."""
    import threading

    import psutil

    values = np.full((256, 128, 2048), -40.0, dtype=np.float32)  # 256 MiB, every page touched
    size = values.nbytes
    dataset = SpectrogramDataset(filepath=str(tmp_path / "big.npy"), version=Version(None, None))
    process, peak, done = psutil.Process(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            done.wait(0.005)

    before = process.memory_info().rss
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        dataset.save(SpectrogramSet(ids=list(range(256)), values=values))
    finally:
        done.set()
        sampler.join()
    assert peak[0] - before < 0.25 * size, f"+{(peak[0] - before) / 2**20:.0f} MiB while saving 256 MiB"
    assert np.array_equal(dataset.load().values[-1], values[-1])


def test_float16_storage_halves_the_file_and_rounds_within_its_step(tmp_path):
    data = make_set(n=6)
    dataset = SpectrogramDataset(filepath=str(tmp_path / "mel.npy"), version=Version(None, None),
                                 storage_dtype="float16")
    dataset.save(data)
    loaded = dataset.load()
    assert loaded.values.dtype == np.float16
    assert loaded.ids == data.ids
    # dB in [-80, 0]: float16's step there is at most 2^-4 dB, so rounding moves a value by at most half of it
    assert np.abs(loaded.values.astype(np.float32) - data.values).max() <= 2.0**-5
    full = SpectrogramDataset(filepath=str(tmp_path / "full.npy"), version=Version(None, None))
    full.save(data)
    half_size = next((tmp_path / "mel.npy").rglob("*.npy")).stat().st_size
    full_size = next((tmp_path / "full.npy").rglob("*.npy")).stat().st_size
    assert half_size - 128 == (full_size - 128) // 2  # both headers are 128 bytes


def test_float16_storage_refuses_values_it_cannot_hold(tmp_path):
    data = make_set(n=3)
    data.values[2, 0, 0] = 1e6
    dataset = SpectrogramDataset(filepath=str(tmp_path / "mel.npy"), version=Version(None, None),
                                 storage_dtype="float16")
    with pytest.raises(DatasetError, match="beyond float16's range.*storage_dtype"):
        dataset.save(data)
    with pytest.raises(DatasetError, match="storage_dtype must be one of"):
        SpectrogramDataset(filepath=str(tmp_path / "x.npy"), storage_dtype="int8")
