"""AudioFolderDataset: listing, helpful errors, lazy writing."""

import numpy as np
import pytest
import soundfile as sf
from kedro.io import DatasetError

from music_emotion.datasets import AudioFolderDataset
from tests.audio_fixtures import tone


def test_lists_audio_files_by_stem_and_ignores_others(tmp_path):
    for name in ("3.mp3", "1.MP3", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    listing = AudioFolderDataset(path=str(tmp_path), extensions=[".mp3"]).load()
    assert list(listing) == ["1", "3"]
    assert listing["3"].endswith("3.mp3")


def test_missing_folder_error_carries_the_hint(tmp_path):
    dataset = AudioFolderDataset(path=str(tmp_path / "nope"), missing_hint="Run the demo_data pipeline first.")
    with pytest.raises(DatasetError, match="Run the demo_data pipeline first"):
        dataset.load()


def test_save_writes_eager_lazy_and_raw_values(tmp_path):
    dataset = AudioFolderDataset(path=str(tmp_path / "out"), n_jobs=1)
    dataset.save({
        "a.wav": (tone(0.5, 8000), 8000),
        "b.mp3": lambda: (tone(1.0, 22050, 2), 22050),
        "c.mp3": lambda: (b"broken", 0),
    })
    assert sf.info(str(tmp_path / "out" / "a.wav")).samplerate == 8000
    info = sf.info(str(tmp_path / "out" / "b.mp3"))
    assert (info.samplerate, info.channels) == (22050, 2)
    assert (tmp_path / "out" / "c.mp3").read_bytes() == b"broken"
    with pytest.raises(DatasetError, match="use one of"):
        dataset.save({"d.aiff": (np.zeros(10), 8000)})


def test_a_symlink_is_listed_and_reported_under_its_own_name(tmp_path):
    from music_emotion.audio.listing import relative_name

    target = tmp_path / "elsewhere" / "passwd.mp3"
    target.parent.mkdir()
    target.write_bytes(b"x")
    folder = tmp_path / "music"
    (folder / "album").mkdir(parents=True)
    (folder / "album" / "song.mp3").symlink_to(target)
    listing = AudioFolderDataset(path=str(folder), recursive=True).load()
    assert list(listing) == ["album/song"]
    assert relative_name(listing, listing["album/song"]) == "album/song.mp3"  # relative, no machine path
    assert relative_name({"x": str(target)}, str(target)) == "passwd.mp3"  # a plain dict: the file name
