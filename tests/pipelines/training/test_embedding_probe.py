"""The embedding arm's probe: ridge on song embeddings with alpha chosen on VAL songs only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from music_emotion.data.corpus import Corpus
from music_emotion.data.embeddings import song_embeddings, window_count
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.study import evaluation, metrics
from music_emotion.study.probe import fit_embedding_probe

from .conftest import embedding_set

ALPHAS = {"alphas": [0.01, 1.0, 100.0, 1e6]}
MLP = {"hidden_size": 32, "weight_decays": [1e-4, 1e-1], "learning_rate": 1e-2, "epochs": 150, "batch_size": 32}


def ridge_probe(embeddings, labels, splits, params=ALPHAS):
    return fit_embedding_probe(embeddings, labels, splits, params, {"probe": "ridge"}, 0)


def mlp_probe(embeddings, labels, splits, seed=0):
    return fit_embedding_probe(embeddings, labels, splits, {**ALPHAS, "mlp": MLP}, {"probe": "mlp"}, seed)


def curved_set(n_songs: int = 180, dim: int = 6, seed: int = 0):
    """(embeddings, labels, splits): V/A are even functions of two embedding features (a square, an absolute
    value), which no linear read-out of the embedding can follow, plus window noise."""
    rng = np.random.default_rng(seed)
    ids = list(range(n_songs))
    songs = rng.normal(size=(n_songs, dim))
    targets = np.stack([np.clip(songs[:, 0] ** 2 - 1, -1, 1), np.clip(1.6 * np.abs(songs[:, 1]) - 1.3, -1, 1)], 1)
    values = songs[:, None, :] + rng.normal(0, 0.05, size=(n_songs, 3, dim))
    meta = {"extraction": {"kind": "clap_embedding", "checkpoint": None, "dim": dim, "duration": 1.5, "offset": 0.0,
                           "sample_rate": 16000, "window_seconds": 0.5}, "valid_frames": [3] * n_songs}
    labels = pd.DataFrame({"song_id": ids, "valence": targets[:, 0], "arousal": targets[:, 1]})
    n_train, n_val = 2 * n_songs // 3, n_songs // 6
    splits = {"train": ids[:n_train], "val": ids[n_train:n_train + n_val], "test": ids[n_train + n_val:], "seed": 0,
              "fractions": {}}
    return SpectrogramSet(ids=ids, values=values.astype(np.float32), meta=meta), labels, splits


def test_the_mlp_probe_reads_what_a_linear_probe_cannot_and_a_shuffled_twin_does_not():
    embeddings, labels, splits = curved_set()
    test = Corpus(embeddings, labels, splits).test

    def test_ccc(probe, values=embeddings):
        predicted = evaluation.predict_part(probe, values, test, {}, "cpu")
        return [metrics.ccc(test.targets[:, i], predicted[:, i]) for i in range(2)]

    mlp = mlp_probe(embeddings, labels, splits)
    assert mlp["probe"] == "mlp" and mlp["hidden_size"] == 32 and set(mlp["val_ccc_mean_by_alpha"]) == {"0.0001", "0.1"}
    assert np.asarray(mlp["hidden_weight"]).shape == (32, 6) and np.asarray(mlp["coef"]).shape == (2, 32)
    assert min(test_ccc(mlp)) > 0.7
    assert max(test_ccc(ridge_probe(embeddings, labels, splits))) < 0.3  # the curve is invisible to a linear probe
    shuffled = labels.assign(valence=labels.valence.sample(frac=1, random_state=0).to_numpy(),
                             arousal=labels.arousal.sample(frac=1, random_state=1).to_numpy())
    broken = mlp_probe(embeddings, shuffled, splits)
    assert max(test_ccc(broken)) < 0.3


def test_the_mlp_probe_is_fitted_on_train_chosen_on_val_and_the_same_for_a_seed():
    embeddings, labels, splits = curved_set(n_songs=90)
    first, again, other = (mlp_probe(embeddings, labels, splits, seed) for seed in (3, 3, 4))
    assert first == again and first["hidden_weight"] != other["hidden_weight"]
    rows = Corpus(embeddings, labels, splits)
    for part, changes in (("test", False), ("val", True)):
        values = embeddings.values.copy()
        values[getattr(rows, part).rows] += 5.0
        poisoned = mlp_probe(SpectrogramSet(ids=embeddings.ids, values=values, meta=embeddings.meta), labels, splits, 3)
        if changes:  # VAL songs choose the weight decay
            assert poisoned["val_ccc_mean_by_alpha"] != first["val_ccc_mean_by_alpha"]
        else:  # TEST songs touch nothing fitted
            assert poisoned == first


def test_an_embedding_arm_names_its_probe_and_other_arms_have_none():
    from music_emotion.study.arms import parse_arms

    assert parse_arms({"a": {"model": "embedding", "probe": "mlp"}}, None, "x")["a"].probe == "mlp"
    for spec in ({"model": "embedding"}, {"model": "embedding", "probe": "svm"}, {"model": "vit", "probe": "ridge"}):
        with pytest.raises(ValueError, match=r"arms.a.probe: an `embedding` arm names its probe, one of"):
            parse_arms({"a": spec}, None, "x")


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
    probe = ridge_probe(audio_embeddings, labels, splits, ALPHAS)
    assert probe["model"] == "embedding_probe" and probe["n_train_songs"] == len(splits["train"])
    test = Corpus(audio_embeddings, labels, splits).test
    predicted = evaluation.predict_part(probe, audio_embeddings, test, {}, "cpu")
    assert predicted.shape == (len(splits["test"]), 2)
    assert min(metrics.ccc(test.targets[:, i], predicted[:, i]) for i in range(2)) > 0.9
    shuffled = SpectrogramSet(ids=audio_embeddings.ids,
                              values=audio_embeddings.values[np.random.default_rng(0).permutation(40)],
                              meta=audio_embeddings.meta)
    broken = ridge_probe(shuffled, labels, splits, ALPHAS)
    guessed = evaluation.predict_part(broken, shuffled, Corpus(shuffled, labels, splits).test, {}, "cpu")
    assert max(metrics.ccc(test.targets[:, i], guessed[:, i]) for i in range(2)) < 0.5


def test_alpha_is_chosen_on_val_and_test_songs_never_touch_the_fit(real_data, audio_embeddings):
    """Poisoning the TEST songs' embeddings changes nothing fitted; poisoning VAL songs' changes the alpha scores."""
    _, labels, splits = real_data
    probe = ridge_probe(audio_embeddings, labels, splits, ALPHAS)
    assert set(probe["val_ccc_mean_by_alpha"]) == {"0.01", "1.0", "100.0", "1000000.0"}
    assert probe["alpha"] < 1e6  # the alpha that shrinks everything to the mean loses on VAL
    rows = Corpus(audio_embeddings, labels, splits)
    for part, changes in (("test", False), ("val", True)):
        values, poisoned_rows = audio_embeddings.values.copy(), getattr(rows, part).rows
        values[poisoned_rows] = np.random.default_rng(1).normal(0, 50, values[poisoned_rows].shape)
        poisoned = ridge_probe(SpectrogramSet(ids=audio_embeddings.ids, values=values,
                                                      meta=audio_embeddings.meta), labels, splits, ALPHAS)
        same = all(poisoned[k] == probe[k] for k in ("alpha", "coef", "intercept", "scaler_mean",
                                                     "val_ccc_mean_by_alpha"))
        assert same is not changes, part


def test_an_empty_alpha_list_names_the_parameter(real_data, audio_embeddings):
    _, labels, splits = real_data
    with pytest.raises(ValueError, match=r"training.probe.alphas is empty"):
        ridge_probe(audio_embeddings, labels, splits, {"alphas": []})


def test_float16_storage_moves_the_probe_predictions_by_less_than_1e_3(real_data):
    """The catalog stores embeddings in float16: the predictions of a probe fitted on the rounded set stay within
    1e-3 of the float32 one (CCC-scale labels in [-1, 1])."""
    mel, labels, splits = real_data
    targets = labels.set_index("song_id").loc[mel.ids, ["valence", "arousal"]].to_numpy(np.float32)
    full = embedding_set(list(mel.ids), targets, 6, dim=32)
    half = SpectrogramSet(ids=full.ids, values=full.values.astype(np.float16).astype(np.float32), meta=full.meta)
    test = Corpus(full, labels, splits).test
    a = evaluation.predict_part(ridge_probe(full, labels, splits, ALPHAS), full, test, {}, "cpu")
    b = evaluation.predict_part(ridge_probe(half, labels, splits, ALPHAS), half, test, {}, "cpu")
    assert np.abs(a - b).max() < 1e-3
