"""demo_data: DEAM layout and CSV quirks, messy cases, and emotion carried by audible cues."""

import numpy as np
import pandas as pd
import pytest

from music_emotion.audio.log_mel import log_mel
from music_emotion.datasets import AnnotationCSVDataset, AudioFolderDataset
from music_emotion.pipelines.data_processing.nodes import merge_annotations
from music_emotion.pipelines.demo_data.nodes import synthesise_demo_dataset
from music_emotion.pipelines.demo_data.synthesis import synthesise_song
from tests.conf_params import mel_config, parameters

CUES = parameters("demo_data.cues")

PARAMS = {
    "n_excerpts": 6, "n_full_songs": 2, "excerpt_seconds": 2.0, "full_song_seconds": 3.0, "sample_rate": 22050,
    "low_rate_every": 3, "rater_noise": 0.3,
    "messy": {"short_clip": True, "short_clip_seconds": 0.5, "missing_audio": True, "corrupt_audio": True,
              "unannotated_audio": True},
    "cues": CUES,
}
LABEL_PARAMS = {"rating_min": 1, "rating_max": 9,
                "required_columns": ["song_id", "valence_mean", "valence_std", "arousal_mean", "arousal_std"]}


def test_writes_deam_layout_with_its_csv_quirks(tmp_path):
    audio, first, second = synthesise_demo_dataset(PARAMS, seed=0)
    AudioFolderDataset(path=str(tmp_path / "MEMD_audio"), n_jobs=1).save(audio)
    paths = [tmp_path / "a.csv", tmp_path / "b.csv"]
    for table, path in zip((first, second), paths, strict=True):
        AnnotationCSVDataset(filepath=str(path), save_args={"index": False}).save(table)
    assert paths[0].read_text().splitlines()[0] == "song_id, valence_mean, valence_std, arousal_mean, arousal_std"
    header = paths[1].read_text().splitlines()[0].split(",")
    assert len(header) == 13 and " valence_ max_mean" in header
    loaded = [AnnotationCSVDataset(filepath=str(p), load_args={"skipinitialspace": True}).load() for p in paths]
    labels, issues = merge_annotations(*loaded, LABEL_PARAMS)
    assert issues.empty and len(labels) == 8
    assert labels["song_id"].max() > 2000  # the "full songs" file is used too
    files = AudioFolderDataset(path=str(tmp_path / "MEMD_audio")).load()
    annotated = {str(i) for i in labels["song_id"]}
    assert len(annotated - set(files)) == 1        # one annotated song has no audio
    assert set(files) - annotated == {"2500"}      # one mp3 has no annotation


def test_same_seed_same_dataset():
    _, first_a, _ = synthesise_demo_dataset(PARAMS, seed=1)
    _, first_b, _ = synthesise_demo_dataset(PARAMS, seed=1)
    pd.testing.assert_frame_equal(first_a, first_b)


def spectral_centroid(samples, rate):
    spectrum = np.abs(np.fft.rfft(samples[:, 0]))
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return float((spectrum * freqs).sum() / spectrum.sum())


def test_arousal_and_valence_are_audible():
    rate, seconds = 16000, 4.0
    grid = np.linspace(-0.9, 0.9, 5)
    centroid_by_arousal = [np.mean([spectral_centroid(synthesise_song(v, a, seconds, rate, 1, 0, CUES), rate)
                                    for v in (-0.5, 0.5)])
                           for a in grid]
    assert np.all(np.diff(centroid_by_arousal) > 0)  # brighter when more excited
    onset_energy = []
    for a in grid:
        spec = log_mel(synthesise_song(0.0, a, seconds, rate, 1, 0, CUES)[:, 0],
                       mel_config(sample_rate=rate, n_fft=512, n_mels=32))
        onset_energy.append(np.abs(np.diff(spec, axis=1)).mean())
    assert np.corrcoef(grid, onset_energy)[0, 1] > 0.8  # faster, more percussive when more excited
    low_band = [np.argmax(np.abs(np.fft.rfft(synthesise_song(v, -0.9, seconds, rate, 1, 0, CUES)[:, 0]))) for v in grid]
    assert np.corrcoef(grid, low_band)[0, 1] > 0.8  # higher register when more positive


def test_a_cue_weight_of_zero_takes_that_cue_away():
    """The second corpus changes the mix of cues: with `register: 0` the pitch no longer follows valence."""
    seconds, rate, grid = 2.0, 22050, np.linspace(-0.9, 0.9, 5)
    flat = {**CUES, "register": 0.0}

    def lowest_peak(cues):
        # minor/major keep their own triads, so compare within one mode: valence > 0 only
        return [np.argmax(np.abs(np.fft.rfft(synthesise_song(v, -0.9, seconds, rate, 1, 0, cues)[:, 0])))
                for v in grid[grid > 0]]

    assert np.ptp(lowest_peak(CUES)) > 5 * max(1, np.ptp(lowest_peak(flat)))


@pytest.mark.parametrize("channels", [1, 2])
def test_songs_are_valid_audio(channels):
    samples = synthesise_song(0.3, -0.2, 1.5, 22050, channels, 4, CUES)
    assert samples.shape == (int(1.5 * 22050), channels)
    assert samples.dtype == np.float32 and np.abs(samples).max() <= 1.0 and np.abs(samples).max() > 0.1


def rehearsal_params(**changes):
    """conf/rehearsal's corpus (DEAM's proportions: 1,744 excerpts + 58 full songs) at a tiny size."""
    full = parameters("demo_data", env="rehearsal")
    assert (full["n_excerpts"], full["n_full_songs"], full["excerpt_seconds"]) == (1744, 58, 45.0)
    assert full["full_song_seconds"] == [120.0, 360.0] and full["low_rate_every"] == 0
    assert not any(v for k, v in full["messy"].items() if k != "short_clip_seconds")
    return {**full, "n_excerpts": 12, "n_full_songs": 4, "excerpt_seconds": 0.5, "full_song_seconds": [1.0, 2.0],
            "sample_rate": 8000, **changes}


def test_the_rehearsal_corpus_has_deams_ids_layout_and_long_songs(tmp_path):
    import soundfile as sf

    audio, first, second = synthesise_demo_dataset(rehearsal_params(), seed=0)
    ids = sorted(int(name.removesuffix(".mp3")) for name in audio)
    assert len(ids) == 16 and all(2 <= i <= 2000 for i in ids[:12]) and ids[12:] == [2001, 2002, 2003, 2004]
    folder = tmp_path / "MEMD_audio"
    AudioFolderDataset(path=str(folder), n_jobs=1).save(audio)
    seconds = {i: sf.info(str(folder / f"{i}.mp3")).duration for i in ids}
    assert all(abs(seconds[i] - 0.5) < 0.1 for i in ids[:12])
    assert (all(1.0 - 0.1 <= seconds[i] <= 2.0 + 0.1 for i in ids[12:])
            and len({round(seconds[i], 1) for i in ids[12:]}) > 1)
    assert {sf.info(str(folder / f"{i}.mp3")).channels for i in ids} == {2}
    for table, name in ((first, "a.csv"), (second, "b.csv")):
        AnnotationCSVDataset(filepath=str(tmp_path / name), save_args={"index": False}).save(table)
    assert (tmp_path / "a.csv").read_text().splitlines()[0] == ("song_id, valence_mean, valence_std, "
                                                                "arousal_mean, arousal_std")
    assert " valence_ max_mean" in (tmp_path / "b.csv").read_text().splitlines()[0].split(",")
    assert len(first) == 12 and len(second) == 4


def test_an_interrupted_corpus_write_resumes_and_other_settings_rewrite_it(tmp_path, monkeypatch):
    import music_emotion.datasets.audio_folder_dataset as folder_dataset

    folder, written = tmp_path / "MEMD_audio", []
    write = folder_dataset._write_audio
    monkeypatch.setattr(folder_dataset, "_write_audio", lambda target, value: (written.append(target.name),
                                                                                write(target, value)))
    audio, _, _ = synthesise_demo_dataset(rehearsal_params(), seed=0)
    dataset = AudioFolderDataset(path=str(folder), n_jobs=1)
    dataset.save(audio)
    assert len(written) == 16
    (folder / sorted(audio)[3]).unlink()  # as if the run had been killed before this file
    (folder / f".{sorted(audio)[4]}.partial").write_bytes(b"half a file")  # a write in flight at the kill
    written.clear()
    dataset.save(audio)
    assert written == [sorted(audio)[3]]
    assert sorted(p.name for p in folder.glob("*.mp3")) == sorted(audio)  # partial files are never listed
    written.clear()
    other, _, _ = synthesise_demo_dataset(rehearsal_params(excerpt_seconds=0.6), seed=0)
    dataset.save(other)
    assert len(written) == 16  # new settings: every file again


def test_the_generator_never_writes_into_a_folder_of_real_audio(tmp_path):
    from kedro.io import DatasetError

    folder = tmp_path / "deam" / "MEMD_audio"
    folder.mkdir(parents=True)
    (folder / "2.mp3").write_bytes(b"someone's real song")
    audio, _, _ = synthesise_demo_dataset(rehearsal_params(), seed=0)
    with pytest.raises(DatasetError, match="may be a real dataset"):
        AudioFolderDataset(path=str(folder), n_jobs=1).save(audio)
    assert (folder / "2.mp3").read_bytes() == b"someone's real song" and len(list(folder.iterdir())) == 1
