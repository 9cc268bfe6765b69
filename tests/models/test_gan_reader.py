"""The independent reader judges whether samples carry their labels, with a model the GAN never met."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from music_emotion.data.features import pooled_mel_statistics
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.gan.probe import ConditioningProbe
from music_emotion.gan.quality import fit_ridge
from music_emotion.gan.reader import (
    IndependentReader,
    ReaderParams,
    failed_targets,
    independent_reading,
    spectro_temporal_features,
)
from music_emotion.study.metrics import ccc
from tests.conf_params import parameters

N_MELS, FRAMES = 16, 128


def two_cue_windows(labels: np.ndarray, rng: np.random.Generator, pulse_from=None) -> np.ndarray:
    """Windows whose arousal is their level and whose valence is how fast they pulse (a tempo cue): the pulse
    has the same spread at every rate, so per-band mean and std (the GAN's selection feature) cannot see it."""
    valence, arousal = labels[:, 0], labels[:, 1]
    pulse_valence = valence if pulse_from is None else pulse_from
    t = np.arange(FRAMES)[None, :]
    rate = 4 + 20 * (pulse_valence[:, None] + 1) / 2  # cycles per window
    pulse = np.sign(np.sin(2 * np.pi * rate * t / FRAMES + rng.uniform(0, 2 * np.pi, (len(labels), 1))))
    level = -40 + 15 * arousal[:, None, None]
    return (level + 6 * pulse[:, None, :] + rng.normal(0, 1, (len(labels), N_MELS, FRAMES))).astype(np.float32)


@pytest.fixture
def reader_params():
    """conf/base's reader, with fewer boosting rounds (the toy cues need no more): the suite stays quick."""
    return dataclasses.replace(ReaderParams.from_params(parameters("gan_augmentation.quality.reader")), max_iter=60)


def _corpus(rng, n_songs=60):
    labels = rng.uniform(-1, 1, (n_songs, 2))
    songs = np.concatenate([two_cue_windows(labels, rng) for _ in range(3)], axis=2)  # 3 windows per song
    ids = list(range(1, n_songs + 1))
    mel = SpectrogramSet(ids, songs, {"extraction": {"n_mels": N_MELS}, "valid_frames": [3 * FRAMES] * n_songs})
    table = pd.DataFrame({"song_id": ids, "valence": labels[:, 0], "arousal": labels[:, 1]})
    splits = {"train": ids[:40], "val": ids[40:], "test": []}
    return mel, table, splits


def test_the_reader_reads_a_tempo_cue_that_the_selection_ridge_cannot(reader_params):
    rng = np.random.default_rng(0)
    train_y, test_y = rng.uniform(-1, 1, (300, 2)), rng.uniform(-1, 1, (100, 2))
    train, test = two_cue_windows(train_y, rng), two_cue_windows(test_y, rng)
    reader = IndependentReader(reader_params, seed=0).fit(spectro_temporal_features(train, 8, 4), train_y)
    read = reader.predict(spectro_temporal_features(test, 8, 4))
    ridge = fit_ridge(pooled_mel_statistics(train), train_y, 1.0).predict(pooled_mel_statistics(test))
    assert ccc(test_y[:, 0], read[:, 0]) > 0.8 and ccc(test_y[:, 1], read[:, 1]) > 0.8
    assert ccc(test_y[:, 0], ridge[:, 0]) < 0.3  # blind to tempo: it could not judge a generator that misses it


def test_samples_that_carry_both_cues_pass_and_broken_twins_fail(reader_params):
    rng = np.random.default_rng(1)
    mel, labels, splits = _corpus(rng)
    asked = rng.uniform(-1, 1, (200, 2))
    good = independent_reading(mel, labels, splits, two_cue_windows(asked, rng), asked, reader_params, seed=0)
    assert good["valence"]["carried"] and good["arousal"]["carried"] and failed_targets(good) == []
    assert good["valence"]["real_ccc"] > 0.7 and good["held_out_split"] == "val"
    # a generator that gets the level right but pulses at one rate whatever it is asked: valence not carried
    flat = two_cue_windows(asked, rng, pulse_from=np.zeros(len(asked)))
    level_only = independent_reading(mel, labels, splits, flat, asked, reader_params, seed=0)
    assert not level_only["valence"]["carried"] and level_only["arousal"]["carried"]
    assert failed_targets(level_only)[0].startswith("valence (")
    # samples whose labels were shuffled carry nothing
    shuffled = independent_reading(mel, labels, splits, two_cue_windows(asked, rng), rng.permutation(asked),
                                   reader_params, seed=0)
    assert not shuffled["valence"]["carried"] and not shuffled["arousal"]["carried"]


def test_the_reader_that_judges_is_never_the_one_that_selects():
    """The probe that picks the GAN's checkpoint is a ridge on pooled mel statistics; the reader is another model
    family on other features, so a generator tuned to please the selector is still judged independently."""
    rng = np.random.default_rng(2)
    features = rng.normal(size=(20, 2 * N_MELS))
    probe = ConditioningProbe(features, rng.uniform(-1, 1, (20, 2)), rng.uniform(-1, 1, (4, 2)), None, 1.0, 1e-6, 4,
                              0, "worst_target", None)
    reader = IndependentReader(ReaderParams(4, 2, 10, 0.1, 7, 0.5), seed=0).fit(
        rng.normal(size=(20, 4 * 5)), rng.uniform(-1, 1, (20, 2)))
    assert type(probe.regressor[-1]).__name__ == "Ridge"
    assert all(type(model).__name__ == "HistGradientBoostingRegressor" for model in reader._models)
    windows = rng.normal(size=(3, N_MELS, FRAMES))
    assert spectro_temporal_features(windows, 4, 2).shape[1] != pooled_mel_statistics(windows).shape[1]
