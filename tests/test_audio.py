"""Extraction core: shapes, padding, silence, odd rates/channels and broken files."""

import numpy as np
import pytest

from music_emotion.audio.decoding import audio_duration, decode_audio, extract_clip, iter_windows
from music_emotion.audio.engine import EngineParams
from music_emotion.audio.extraction import extract_many
from music_emotion.audio.log_mel import MelConfig, log_mel
from tests.audio_fixtures import tone, write_audio, write_truncated_mp3
from tests.conf_params import mel_config, parameters

ONE_PROCESS = EngineParams("single", None, None, 5, 16)
LOCAL_CLUSTER = EngineParams("dask", None, 2, 5, 1)

SMALL = mel_config(sample_rate=8000, duration=2.0, n_fft=512, hop_length=256, n_mels=16)


def test_default_config_gives_the_seed_shape():
    assert (mel_config(duration=30.0).n_mels, mel_config(duration=30.0).n_frames) == (128, 1292)


def test_from_params_rejects_unknown_keys_and_bad_ref():
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['n_melz'\], missing key\(s\) \['n_mels'\]"):
        MelConfig.from_params({**{k: v for k, v in parameters("data_processing.extraction").items() if k != "n_mels"},
                               "n_melz": 64})
    with pytest.raises(ValueError, match=r"extraction.ref must be one of \['max', 'absolute'\], got 'loudest'"):
        MelConfig.from_params(parameters("data_processing.extraction", ref="loudest"))
    with pytest.raises(ValueError, match="missing key"):  # no defaults in code: conf holds every value
        MelConfig.from_params({"ref": "max"})


@pytest.mark.parametrize(("rate", "channels", "suffix"),
                         [(44100, 2, ".mp3"), (22050, 1, ".mp3"), (16000, 2, ".wav"), (48000, 1, ".flac")])
def test_any_rate_and_channel_count_gives_the_configured_shape(tmp_path, rate, channels, suffix):
    path = write_audio(tmp_path / f"clip{suffix}", tone(3.0, rate, channels), rate)
    result = extract_clip("clip", path, SMALL)
    assert result.status == "ok"
    assert result.spectrogram.shape == (SMALL.n_mels, SMALL.n_frames)
    assert result.spectrogram.dtype == np.float32
    assert np.all(np.isfinite(result.spectrogram))
    assert result.spectrogram.max() == pytest.approx(0.0)  # ref = clip max
    assert result.spectrogram.min() >= -80.0


def test_decode_resamples_and_mixes_down(tmp_path):
    path = write_audio(tmp_path / "a.wav", tone(1.0, 16000, 2), 16000)
    samples = decode_audio(path, 8000)
    assert samples.ndim == 1 and len(samples) == 8000


def test_offset_reads_the_requested_part(tmp_path):
    rate = 8000
    first = tone(1.0, rate, freq=200.0)
    second = tone(1.0, rate, freq=200.0, amplitude=0.0)
    path = write_audio(tmp_path / "a.wav", np.concatenate([first, second]), rate)
    assert np.abs(decode_audio(path, rate, offset=0.0, duration=0.5)).max() > 0.2
    assert np.abs(decode_audio(path, rate, offset=1.2, duration=0.5)).max() < 1e-3


def test_short_clip_is_padded_and_reported(tmp_path):
    path = write_audio(tmp_path / "short.mp3", tone(0.7, 22050, 2), 22050)
    result = extract_clip("short", path, SMALL)
    assert result.status == "padded"
    assert "padded" in result.reason
    assert result.spectrogram.shape == (SMALL.n_mels, SMALL.n_frames)
    assert result.audio_seconds < 1.0


def test_silent_clip_is_finite_and_at_the_floor(tmp_path):
    path = write_audio(tmp_path / "silent.wav", np.zeros((8000 * 3, 1), dtype=np.float32), 8000)
    result = extract_clip("silent", path, SMALL)
    assert result.silent
    assert np.all(np.isfinite(result.spectrogram))
    assert np.all(result.spectrogram == SMALL.floor_db)


def test_zero_byte_and_non_audio_files_are_skipped_with_a_reason(tmp_path):
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"<html>not audio</html>" * 50)
    assert extract_clip("empty", empty, SMALL).reason == "empty file (0 bytes)"
    junk_result = extract_clip("junk", junk, SMALL)
    assert junk_result.status == "skipped"
    assert "not a recognised audio format" in junk_result.reason


def test_truncated_mp3_does_not_crash(tmp_path):
    path = write_truncated_mp3(tmp_path / "cut.mp3")
    result = extract_clip("cut", path, SMALL)
    assert result.status in {"ok", "padded", "skipped"}
    if result.spectrogram is not None:
        assert np.all(np.isfinite(result.spectrogram))


def test_extract_many_keeps_input_order_and_drops_failures(tmp_path):
    items = []
    for i, freq in enumerate([300.0, 600.0, 1200.0]):
        items.append((f"s{i}", str(write_audio(tmp_path / f"s{i}.wav", tone(2.5, 8000, 1, freq), 8000))))
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"junk")
    items.insert(1, ("broken", str(broken)))
    values, results = extract_many(items, SMALL, ONE_PROCESS)
    assert [r.key for r in results] == ["s0", "broken", "s1", "s2"]
    assert values.shape == (3, SMALL.n_mels, SMALL.n_frames)
    assert all(r.spectrogram is None for r in results)  # spectrograms live only in the array
    # rows follow the order of the successful items: the loudest mel band rises with the tone
    peaks = values.mean(axis=2).argmax(axis=1)
    assert peaks[0] < peaks[1] < peaks[2]


def test_iter_windows_covers_a_long_file(tmp_path):
    path = write_audio(tmp_path / "long.wav", tone(4.8, 8000, 1), 8000)
    windows = list(iter_windows(path, SMALL))
    assert [round(start, 3) for start, _, _, _ in windows] == [0.0, 2.0]  # the 0.8 s tail is under half a window
    assert all(spec.shape == (SMALL.n_mels, SMALL.n_frames) for _, spec, _, _ in windows)
    assert [valid for _, _, _, valid in windows] == [SMALL.n_frames] * 2
    tail = list(iter_windows(path, SMALL, min_fraction=0.1))[-1]  # kept: padded, with its real frames counted
    assert tail[2] and tail[3] == SMALL.frames_for(0.8) < SMALL.n_frames
    assert audio_duration(path) == pytest.approx(4.8)


def test_a_file_with_nan_samples_at_another_rate_is_skipped_with_its_reason(tmp_path):
    """NaN samples must be caught before resampling (44.1 kHz -> 22.05 kHz), naming the file's problem."""
    import soundfile as sf

    samples = tone(2.0, 44100, 1)
    samples[1000:1010] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, samples.astype(np.float32), 44100, subtype="FLOAT")
    result = extract_clip("nan", path, mel_config(sample_rate=22050, duration=1.0))
    assert result.status == "skipped" and "NaN or infinity" in result.reason


def test_the_configured_resampler_is_the_one_used(tmp_path, monkeypatch):
    import librosa

    used = []
    original = librosa.resample
    monkeypatch.setattr(librosa, "resample", lambda *a, **k: used.append(k["res_type"]) or original(*a, **k))
    path = write_audio(tmp_path / "a.wav", tone(1.0, 44100, 1), 44100)
    extract_clip("a", path, mel_config(sample_rate=22050, duration=1.0, resample_type="soxr_mq"))
    assert used == ["soxr_mq"]


def test_a_long_file_is_decoded_one_stored_span_at_a_time(tmp_path, monkeypatch):
    """A 20-minute file must not be decoded whole: every read is bounded by the stored span."""
    import music_emotion.audio.decoding as audio

    path = write_audio(tmp_path / "long.wav", tone(9.0, 8000, 1, freq=300.0), 8000)
    whole = decode_audio(path, SMALL.sample_rate)
    reads = []
    real_decode = audio.decode_audio

    def recording_decode(*args, **kwargs):
        samples = real_decode(*args, **kwargs)
        reads.append(len(samples))
        return samples

    monkeypatch.setattr(audio, "decode_audio", recording_decode)
    windows = list(iter_windows(path, SMALL))
    assert len(windows) == 5 and max(reads) <= SMALL.n_samples  # 9 s in 2 s spans (the 1 s tail is kept, padded)
    for start, spectrogram, _, _ in windows:  # the same features as cutting the whole decoded file
        first = int(start * SMALL.sample_rate)
        expected = log_mel(audio.fit_to_window(whole[first : first + SMALL.n_samples], SMALL.n_samples)[0], SMALL)
        np.testing.assert_allclose(spectrogram, expected, atol=1e-3)


def test_any_error_a_file_causes_is_a_skip_with_its_reason(tmp_path, monkeypatch):
    """Not only decode errors: whatever one file makes the feature code throw is reported, never a crash."""
    import music_emotion.audio.log_mel as audio

    good = write_audio(tmp_path / "good.wav", tone(2.0, 8000), 8000)
    odd = write_audio(tmp_path / "odd.wav", tone(2.0, 8000, amplitude=0.9), 8000)
    real_log_mel = audio.log_mel

    def fragile_log_mel(samples, config):
        if np.abs(samples).max() > 0.5:  # only the loud file trips it
            raise MemoryError("simulated")
        return real_log_mel(samples, config)

    monkeypatch.setattr(audio, "log_mel", fragile_log_mel)
    values, results = extract_many([("good", str(good)), ("odd", str(odd))], SMALL, ONE_PROCESS)
    assert [r.status for r in results] == ["ok", "skipped"] and len(values) == 1
    assert results[1].reason == "unexpected error on this file (MemoryError: simulated)"


def test_the_mp3_decoders_own_notes_never_reach_the_terminal(tmp_path, capfd, caplog):
    """libmpg123 writes "Trying to resync..." to fd 2; the user gets one warning naming the file instead."""
    path = write_audio(tmp_path / "damaged.mp3", tone(6.0, 44100, 2), 44100)
    data = bytearray(path.read_bytes())
    data[3000:3400] = bytes(400)  # a burst of zeros in the middle of the stream
    path.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="music_emotion.audio.decoding"):
        samples = decode_audio(path, 22050)
    assert len(samples) > 22050 * 5
    assert "resync" not in capfd.readouterr().err.lower()
    assert "damaged.mp3: the decoder skipped damaged data (Skipped" in caplog.text


@pytest.mark.slow
def test_extraction_on_a_local_dask_cluster_matches_one_process(tmp_path):
    items = [(str(i), str(write_audio(tmp_path / f"{i}.wav", tone(1.0 + 0.5 * i, 8000, 1, 300 + 100 * i), 8000)))
             for i in range(5)] + [("bad", str(tmp_path / "missing.wav"))]
    single_values, single_results = extract_many(items, SMALL, ONE_PROCESS)
    dask_values, dask_results = extract_many(items, SMALL, LOCAL_CLUSTER)
    np.testing.assert_array_equal(single_values, dask_values)
    assert [(r.key, r.status, r.reason) for r in single_results] == [(r.key, r.status, r.reason) for r in dask_results]
    assert dask_results[-1].status == "skipped"
