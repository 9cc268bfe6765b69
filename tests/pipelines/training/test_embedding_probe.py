"""The embedding arm's probe: ridge on song embeddings with alpha chosen on VAL songs only."""

from __future__ import annotations

import numpy as np
import pytest

from music_emotion.data.corpus import Corpus
from music_emotion.data.embeddings import song_embeddings, window_count
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.study import evaluation, metrics
from music_emotion.study.probe import fit_embedding_probe

from .conftest import embedding_set

ALPHAS = {"alphas": [0.01, 1.0, 100.0, 1e6]}


def test_a_song_embedding_is_the_mean_of_its_real_windows_only():
    values = np.zeros((2, 3, 2), np.float32)
    values[0] = [[1, 1], [3, 3], [5, 5]]
    values[1, 0] = [2, 4]  # one real window; the others are the zero rows of a short song
    means = song_embeddings(values, np.array([1, 0]), np.array([1, 3]))
    np.testing.assert_allclose(means, [[2, 4], [3, 3]])


def test_window_count_is_whole_encoder_windows_of_the_span_and_at_least_one():
    assert window_count(45.0, 10.0) == 4 and window_count(12.0, 4.0) == 3 and window_count(3.0, 10.0) == 1


def test_the_probe_learns_readable_embeddings_and_a_shuffled_twin_does_not(real_data, audio_embeddings):
    _, labels, splits = real_data
    probe = fit_embedding_probe(audio_embeddings, labels, splits, ALPHAS)
    assert probe["model"] == "embedding_probe" and probe["n_train_songs"] == len(splits["train"])
    test = Corpus(audio_embeddings, labels, splits).test
    predicted = evaluation.predict_part(probe, audio_embeddings, test, {}, "cpu")
    assert predicted.shape == (len(splits["test"]), 2)
    assert min(metrics.ccc(test.targets[:, i], predicted[:, i]) for i in range(2)) > 0.9
    shuffled = SpectrogramSet(ids=audio_embeddings.ids,
                              values=audio_embeddings.values[np.random.default_rng(0).permutation(40)],
                              meta=audio_embeddings.meta)
    broken = fit_embedding_probe(shuffled, labels, splits, ALPHAS)
    guessed = evaluation.predict_part(broken, shuffled, Corpus(shuffled, labels, splits).test, {}, "cpu")
    assert max(metrics.ccc(test.targets[:, i], guessed[:, i]) for i in range(2)) < 0.5


def test_alpha_is_chosen_on_val_and_test_songs_never_touch_the_fit(real_data, audio_embeddings):
    """Poisoning the TEST songs' embeddings changes nothing fitted; poisoning VAL songs' changes the alpha scores."""
    _, labels, splits = real_data
    probe = fit_embedding_probe(audio_embeddings, labels, splits, ALPHAS)
    assert set(probe["val_ccc_mean_by_alpha"]) == {"0.01", "1.0", "100.0", "1000000.0"}
    assert probe["alpha"] < 1e6  # the alpha that shrinks everything to the mean loses on VAL
    rows = Corpus(audio_embeddings, labels, splits)
    for part, changes in (("test", False), ("val", True)):
        values, poisoned_rows = audio_embeddings.values.copy(), getattr(rows, part).rows
        values[poisoned_rows] = np.random.default_rng(1).normal(0, 50, values[poisoned_rows].shape)
        poisoned = fit_embedding_probe(SpectrogramSet(ids=audio_embeddings.ids, values=values,
                                                      meta=audio_embeddings.meta), labels, splits, ALPHAS)
        same = all(poisoned[k] == probe[k] for k in ("alpha", "coef", "intercept", "scaler_mean",
                                                     "val_ccc_mean_by_alpha"))
        assert same is not changes, part


def test_an_empty_alpha_list_names_the_parameter(real_data, audio_embeddings):
    _, labels, splits = real_data
    with pytest.raises(ValueError, match=r"training.probe.alphas is empty"):
        fit_embedding_probe(audio_embeddings, labels, splits, {"alphas": []})


def test_float16_storage_moves_the_probe_predictions_by_less_than_1e_3(real_data):
    """The catalog stores embeddings in float16: the predictions of a probe fitted on the rounded set stay within
    1e-3 of the float32 one (CCC-scale labels in [-1, 1])."""
    mel, labels, splits = real_data
    targets = labels.set_index("song_id").loc[mel.ids, ["valence", "arousal"]].to_numpy(np.float32)
    full = embedding_set(list(mel.ids), targets, 6, dim=32)
    half = SpectrogramSet(ids=full.ids, values=full.values.astype(np.float16).astype(np.float32), meta=full.meta)
    test = Corpus(full, labels, splits).test
    a = evaluation.predict_part(fit_embedding_probe(full, labels, splits, ALPHAS), full, test, {}, "cpu")
    b = evaluation.predict_part(fit_embedding_probe(half, labels, splits, ALPHAS), half, test, {}, "cpu")
    assert np.abs(a - b).max() < 1e-3
