"""FigureDataset (MatplotlibDataset that loads back as bytes) and ZipArchiveDataset."""

from __future__ import annotations

import base64
import zipfile

import pytest
from kedro.io import DatasetError, Version
from kedro_datasets.matplotlib import MatplotlibDataset
from matplotlib.figure import Figure

from music_emotion.datasets.figure_dataset import FigureDataset
from music_emotion.datasets.zip_archive_dataset import ZipArchiveDataset


def _figure() -> Figure:
    figure = Figure(figsize=(2, 1), dpi=40)
    figure.subplots().plot([0, 1], [1, 0])
    return figure


def test_datasets_are_exported_by_the_package():
    import music_emotion.datasets as datasets

    assert datasets.FigureDataset is FigureDataset, "add FigureDataset to music_emotion/datasets/__init__.py"
    assert datasets.ZipArchiveDataset is ZipArchiveDataset, (
        "add ZipArchiveDataset to music_emotion/datasets/__init__.py")


def test_figure_dataset_saves_versioned_png_and_loads_bytes(tmp_path):
    path = tmp_path / "plot.png"
    first = FigureDataset(filepath=str(path), version=Version(None, "2024-01-01T00.00.00.000Z"))
    assert isinstance(first, MatplotlibDataset)
    first.save(_figure())
    assert (path / "2024-01-01T00.00.00.000Z" / "plot.png").is_file()
    assert first.load().startswith(b"\x89PNG")

    second = FigureDataset(filepath=str(path), version=Version(None, "2024-01-02T00.00.00.000Z"))
    big = _figure()
    big.set_size_inches(4, 2)
    second.save(big)
    latest = FigureDataset(filepath=str(path), version=Version(None, None)).load()
    pinned = FigureDataset(filepath=str(path), version=Version("2024-01-01T00.00.00.000Z", None)).load()
    assert latest == (path / "2024-01-02T00.00.00.000Z" / "plot.png").read_bytes()
    assert pinned == (path / "2024-01-01T00.00.00.000Z" / "plot.png").read_bytes() != latest
    # the kedro-viz preview is the image itself
    assert base64.b64decode(str(FigureDataset(filepath=str(path),
                                              version=Version(None, None)).preview()))[:4] == b"\x89PNG"


def test_figure_dataset_refuses_lists_and_missing_files(tmp_path):
    dataset = FigureDataset(filepath=str(tmp_path / "plot.png"), version=Version(None, None))
    with pytest.raises(DatasetError, match="run the reporting pipeline first"):
        dataset.load()
    with pytest.raises(DatasetError, match="one matplotlib Figure"):
        dataset.save([_figure(), _figure()])


def test_zip_archive_round_trip_versioned_and_deterministic(tmp_path):
    members = {"tables/a.md": "# A", "figures/b.png": b"\x89PNG...", "models/m/model.safetensors": b"\x00" * 100}
    path = tmp_path / "report.zip"
    one = ZipArchiveDataset(filepath=str(path), version=Version(None, "2024-01-01T00.00.00.000Z"))
    two = ZipArchiveDataset(filepath=str(path), version=Version(None, "2024-01-02T00.00.00.000Z"))
    one.save(members)
    two.save(dict(reversed(list(members.items()))))
    loaded = ZipArchiveDataset(filepath=str(path), version=Version(None, None)).load()
    assert loaded == {"tables/a.md": b"# A", "figures/b.png": b"\x89PNG...",
                      "models/m/model.safetensors": b"\x00" * 100}
    files = sorted(path.glob("*/report.zip"))
    assert len(files) == 2 and files[0].read_bytes() == files[1].read_bytes()
    with zipfile.ZipFile(files[0]) as archive:
        kinds = {i.filename: i.compress_type for i in archive.infolist()}
    assert kinds["tables/a.md"] == zipfile.ZIP_DEFLATED and kinds["figures/b.png"] == zipfile.ZIP_STORED
    preview = ZipArchiveDataset(filepath=str(path), version=Version(None, None)).preview()
    assert [row[0] for row in preview["data"]] == sorted(members)


@pytest.mark.parametrize("bad", [{"../escape.txt": b"x"}, {"/abs.txt": b"x"}, {}, {"a.txt": 3}])
def test_zip_archive_rejects_bad_members(tmp_path, bad):
    dataset = ZipArchiveDataset(filepath=str(tmp_path / "r.zip"), version=Version(None, None))
    with pytest.raises(DatasetError):
        dataset.save(bad)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], "no archive (not even a partial one) is left behind"
