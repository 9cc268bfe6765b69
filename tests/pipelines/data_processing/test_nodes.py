"""data_processing nodes: annotation validation, extraction with messy input, the song split."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.pipelines.data_processing.nodes import (
    build_extraction_report,
    extract_mel_spectrograms,
    merge_annotations,
    split_songs,
)
from tests.audio_fixtures import tone, write_audio, write_truncated_mp3
from tests.conf_params import parameters

LABEL_PARAMS = {"rating_min": 1, "rating_max": 9,
                "required_columns": ["song_id", "valence_mean", "valence_std", "arousal_mean", "arousal_std"]}
EXTRACTION = parameters("data_processing.extraction", sample_rate=8000, duration=2.0, n_fft=512, hop_length=256,
                        n_mels=16)
ONE_PROCESS = {"engine": "single", "scheduler_address": None, "n_workers": None, "connect_timeout_s": 5,
               "min_audio_seconds": 0.0}


def deam_table(rows, source="static_annotations_averaged_songs_1_2000.csv", quirky=True):
    """A table as AnnotationCSVDataset loads DEAM: header with the spaces DEAM has."""
    columns = ["song_id", " valence_mean", " valence_std", " arousal_mean", " arousal_std"] if quirky else \
        ["song_id", "valence_mean", "valence_std", "arousal_mean", "arousal_std"]
    table = pd.DataFrame(rows, columns=columns)
    table.attrs["source_file"] = source
    return table


def second_table(rows):
    columns = ["song_id", " valence_mean", " valence_std", " valence_ max_mean", " valence_max_std",
               " valence_min_mean", " valence_min_std", " arousal_mean", " arousal_std", " arousal_max_mean",
               " arousal_max_std", " arousal_min_mean", " arousal_min_std"]
    table = pd.DataFrame([r + [0.0] * (13 - len(r)) for r in rows], columns=columns)
    table.attrs["source_file"] = "static_annotations_averaged_songs_2000_2058.csv"
    return table


def test_merge_normalises_to_minus_one_one_and_keeps_raw_ratings():
    first = deam_table([[2, 9.0, 1.0, 1.0, 0.5], [3, 5.0, 1.2, 7.0, 0.7]])
    second = second_table([[2001, 3.0, 0.8, 4.0, 0.1, 2.0, 0.1, 6.0, 0.9]])
    labels, issues = merge_annotations(first, second, LABEL_PARAMS)
    assert issues.empty
    assert labels["song_id"].tolist() == [2, 3, 2001]
    np.testing.assert_allclose(labels["valence"], [1.0, 0.0, -0.5])
    np.testing.assert_allclose(labels["arousal"], [-1.0, 0.5, 0.25])
    assert labels.loc[0, "valence_mean"] == 9.0 and labels.loc[1, "arousal_std"] == 0.7
    assert labels["song_id"].dtype == np.int64


def test_missing_column_error_names_file_and_column():
    broken = deam_table([[2, 5.0, 1.0, 5.0, 1.0]]).drop(columns=[" arousal_mean"])
    with pytest.raises(ValueError, match=r"static_annotations_averaged_songs_1_2000\.csv.*arousal_mean"):
        merge_annotations(broken, second_table([]), LABEL_PARAMS)


def test_bad_rows_are_dropped_and_reported():
    first = deam_table([
        [2, 5.0, 1.0, 5.0, 1.0],
        [3, np.nan, 1.0, 5.0, 1.0],      # missing valence
        [4, 5.0, 1.0, 9.5, 1.0],         # arousal out of range
        [5, 6.0, 1.0, 6.0, 1.0],
        [5, 6.0, 1.0, 6.0, 1.0],         # identical duplicate: first kept
        [6, 2.0, 1.0, 2.0, 1.0],
        [6, 8.0, 1.0, 2.0, 1.0],         # conflicting duplicate: both dropped
        ["x7", 5.0, 1.0, 5.0, 1.0],      # not an id
    ])
    labels, issues = merge_annotations(first, second_table([]), LABEL_PARAMS)
    assert labels["song_id"].tolist() == [2, 5]
    reasons = dict(zip(issues["song_id"].astype(str), issues["reason"], strict=False))
    assert "missing" in reasons["3"]
    assert "outside" in reasons["4"]
    assert "identical" in reasons["5"]
    assert "conflicting" in reasons["6"]
    assert "integer" in reasons["x7"]
    assert len(issues) == 6  # 3, 4, one of 5, both 6, x7
    assert set(issues["file"]) == {"static_annotations_averaged_songs_1_2000.csv"}


def test_no_valid_annotation_is_an_error():
    with pytest.raises(ValueError, match="No valid annotation"):
        merge_annotations(deam_table([[2, 0.0, 1.0, 5.0, 1.0]]), second_table([]), LABEL_PARAMS)


@pytest.fixture
def messy_audio(tmp_path):
    """Five annotated songs: two fine (44.1 kHz stereo, 22.05 kHz mono), one short, one zero-byte,
    one truncated; plus one annotated song with no file and one file with no annotation."""
    folder = tmp_path / "MEMD_audio"
    write_audio(folder / "10.mp3", tone(3.0, 44100, 2, 300), 44100)
    write_audio(folder / "11.mp3", tone(3.0, 22050, 1, 900), 22050)
    write_audio(folder / "12.mp3", tone(0.5, 44100, 2), 44100)
    (folder / "13.mp3").write_bytes(b"")
    write_truncated_mp3(folder / "14.mp3")
    write_audio(folder / "99.mp3", tone(3.0, 22050, 1), 22050)
    (folder / "cover.mp3").write_bytes(b"junk")
    audio = {p.stem: str(p) for p in sorted(folder.glob("*.mp3"))}
    labels = pd.DataFrame({"song_id": [10, 11, 12, 13, 14, 15], "valence": 0.0, "arousal": 0.0})
    return audio, labels


def test_extraction_keeps_every_valid_song_and_reports_the_rest(messy_audio):
    audio, labels = messy_audio
    spectrograms, log = extract_mel_spectrograms(audio, labels, EXTRACTION, ONE_PROCESS)
    assert {10, 11, 12} <= set(spectrograms.ids)
    assert 13 not in spectrograms.ids and 15 not in spectrograms.ids and 99 not in spectrograms.ids
    assert spectrograms.values.shape[1:] == (16, 1 + 16000 // 256)
    assert np.all(np.isfinite(spectrograms.values))
    status = log.set_index(log["song_id"].astype(str))
    assert status.loc["12", "status"] == "padded"
    assert status.loc["13", "reason"] == "empty file (0 bytes)"
    assert status.loc["15", "reason"] == "annotated song has no audio file"
    assert status.loc["99", "reason"] == "audio file has no annotation"
    assert log["file"].astype(str).str.endswith("cover.mp3").any()
    assert spectrograms.meta["extraction"]["n_mels"] == 16
    # every song id of either input appears in the log: nothing is lost silently
    assert {10, 11, 12, 13, 14, 15, 99} <= set(log["song_id"].dropna().astype(int))


def test_two_files_with_the_same_song_id_keep_the_first_and_report_the_second(messy_audio):
    """16.mp3 and 0016.mp3 both mean song 16: the run goes on (it used to die at the very end)."""
    audio, labels = messy_audio
    folder = Path(audio["10"]).parent
    write_audio(folder / "0010.mp3", tone(3.0, 22050, 1, 500), 22050)
    audio = {**audio, "0010": str(folder / "0010.mp3")}
    spectrograms, log = extract_mel_spectrograms(audio, labels, EXTRACTION, ONE_PROCESS)
    assert spectrograms.ids.count(10) == 1 and {10, 11, 12} <= set(spectrograms.ids)
    duplicate = log[log["file"].astype(str).str.endswith("0010.mp3")]
    assert duplicate["status"].tolist() == ["skipped"]
    assert "another file already has song id 10 (10.mp3)" in duplicate["reason"].item()


def test_extraction_without_any_valid_song_fails_clearly(tmp_path):
    (tmp_path / "1.mp3").write_bytes(b"")
    labels = pd.DataFrame({"song_id": [1, 2], "valence": 0.0, "arousal": 0.0})
    with pytest.raises(ValueError, match="No valid song remains"):
        extract_mel_spectrograms({"1": str(tmp_path / "1.mp3")}, labels, EXTRACTION, ONE_PROCESS)


def test_report_combines_annotation_and_audio_problems():
    issues = pd.DataFrame({"song_id": [3], "file": ["a.csv"], "reason": ["valence_mean is missing or not a number"]})
    log = pd.DataFrame({"song_id": [10], "file": ["10.mp3"], "stage": ["audio"], "status": ["ok"], "reason": [""],
                        "audio_seconds": [3.0]})
    report = build_extraction_report(issues, log)
    assert report["stage"].tolist() == ["annotations", "audio"]
    assert report["status"].tolist() == ["dropped", "ok"]


def split_inputs(n=100, seed=0):
    rng = np.random.default_rng(seed)
    ids = list(range(1, n + 1))
    labels = pd.DataFrame({"song_id": ids + [n + 1], "valence": rng.uniform(-1, 1, n + 1),
                           "arousal": rng.uniform(-1, 1, n + 1)})
    spectrograms = SpectrogramSet(ids=ids, values=np.zeros((n, 2, 2), dtype=np.float32))
    return spectrograms, labels


SPLIT = {"fractions": {"train": 0.7, "val": 0.15, "test": 0.15}, "stratify": "quadrant", "song_lists": None}


def test_split_is_disjoint_complete_proportional_and_seeded():
    spectrograms, labels = split_inputs()
    splits = split_songs(spectrograms, labels, SPLIT, seed=7)
    train, val, test = (set(splits[k]) for k in ("train", "val", "test"))
    assert not (train & val or train & test or val & test)
    assert train | val | test == set(spectrograms.ids)  # song 101 has a label but no spectrogram: not split
    assert (len(train), len(val), len(test)) == (70, 15, 15)
    assert splits == split_songs(spectrograms, labels, SPLIT, seed=7)
    assert splits["train"] != split_songs(spectrograms, labels, SPLIT, seed=8)["train"]


def test_split_is_stratified_by_quadrant():
    spectrograms, labels = split_inputs(n=400)
    splits = split_songs(spectrograms, labels, SPLIT, seed=0)
    quadrant = labels.set_index("song_id").pipe(lambda t: (t["valence"] >= 0) * 2 + (t["arousal"] >= 0))
    overall = quadrant.loc[spectrograms.ids].value_counts(normalize=True).sort_index()
    for name in ("train", "test"):
        share = quadrant.loc[splits[name]].value_counts(normalize=True).sort_index()
        np.testing.assert_allclose(share, overall, atol=0.03)


def test_split_rejects_bad_fractions_and_too_few_songs():
    spectrograms, labels = split_inputs(n=10)
    with pytest.raises(ValueError, match="sum to 1"):
        split_songs(spectrograms, labels, {**SPLIT, "fractions": {"train": 0.8, "val": 0.3, "test": 0.1}}, seed=0)
    tiny, tiny_labels = split_inputs(n=2)
    with pytest.raises(ValueError, match="too few"):
        split_songs(tiny, tiny_labels, SPLIT, seed=0)


def _lists(folder, **contents):
    folder.mkdir(exist_ok=True)
    for name, text in contents.items():
        (folder / f"{name}.txt").write_text(text)
    return {name: str(folder / f"{name}.txt") for name in contents}


def test_a_published_split_is_used_as_listed_and_its_missing_songs_are_reported(tmp_path, caplog):
    """Music2Emo's lists (one id per line, no trailing newline): the songs of each list this corpus holds, whatever
    the seed; listed songs it lacks and corpus songs in no list are named, never silently dropped."""
    spectrograms, labels = split_inputs(n=20)  # songs 1..20 have spectrograms; 21 only a label
    lists = _lists(tmp_path, train="".join(f"{i}\n" for i in range(1, 13)), val="13\n14\n15\n21\n999",
                   test="16\n17\n18\n19")
    splits = split_songs(spectrograms, labels, {**SPLIT, "song_lists": lists}, seed=7)
    assert splits["train"] == list(range(1, 13)) and splits["val"] == [13, 14, 15]
    assert splits["test"] == [16, 17, 18, 19]
    assert splits == split_songs(spectrograms, labels, {**SPLIT, "song_lists": lists}, seed=8) | {"seed": 7}
    assert splits["not_in_corpus"] == {"train": [], "val": [21, 999], "test": []} and splits["in_no_list"] == [20]
    assert "are not in this corpus; 1 corpus songs are in no list" in caplog.text


@pytest.mark.parametrize(("contents", "message"), [
    ({"train": "1\n2", "val": "3", "test": "2"}, r"test.txt:1: song 2 is in both the train and test lists"),
    ({"train": "1\nsong2", "val": "3", "test": "4"}, r"train.txt:2: 'song2' is not a song id"),
    ({"train": "1", "val": "3"}, r"song_lists needs exactly the files \['train', 'val', 'test'\]"),
    ({"train": "1", "val": "3", "test": "500"}, r"song_lists.test: none of its songs is in this corpus"),
])
def test_a_bad_published_split_names_the_file_and_line(tmp_path, contents, message):
    spectrograms, labels = split_inputs(n=20)
    with pytest.raises(ValueError, match=message):
        split_songs(spectrograms, labels, {**SPLIT, "song_lists": _lists(tmp_path, **contents)}, seed=0)


def test_extraction_report_names_files_relative_to_the_audio_folder(messy_audio):
    """No absolute machine path in an output (kedro-viz previews and archives would publish it)."""
    from music_emotion.datasets import AudioFolderDataset

    audio, labels = messy_audio
    listing = AudioFolderDataset(path=str(Path(audio["10"]).parent)).load()
    _, log = extract_mel_spectrograms(listing, labels, EXTRACTION, ONE_PROCESS)
    files = log["file"].dropna().astype(str)
    assert len(files) >= 5 and not files.str.startswith("/").any()
    assert set(files) >= {"10.mp3", "cover.mp3"}


def test_the_extraction_log_names_the_files_skipped_or_padded_and_why(caplog):
    import logging

    import pandas as pd

    from music_emotion.pipelines.data_processing.nodes import log_outcomes

    report = pd.DataFrame({"song_id": [1, 2, 3, 4], "file": ["1.mp3", "2.mp3", None, "4.mp3"],
                           "status": ["ok", "skipped", "skipped", "padded"],
                           "reason": ["", "unreadable audio: corrupt", "annotated song has no audio file",
                                      "padded: 3.00 s of audio for a 45 s window"]})
    with caplog.at_level(logging.INFO):
        log_outcomes(report)
    assert "Extraction: 2 skipped, 1 ok, 1 padded (every file's outcome: the extraction_log dataset)" in caplog.text
    assert "skipped: 2.mp3: unreadable audio: corrupt" in caplog.text
    assert "skipped: song 3: annotated song has no audio file" in caplog.text
    assert "padded: 4.mp3: padded: 3.00 s" in caplog.text
