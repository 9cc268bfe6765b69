"""pooled_mel_statistics: values, row selection/order, memory-map safety."""

import numpy as np
import pytest

from music_emotion.data.features import pooled_mel_statistics


def test_band_means_and_stds_match_a_direct_computation(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.uniform(-80, 0, size=(70, 6, 50)).astype(np.float32)
    path = tmp_path / "x.npy"
    np.save(path, values)
    mapped = np.load(path, mmap_mode="r")
    rows = np.array([5, 69, 0, 33, 5])  # any order, repeats allowed
    features = pooled_mel_statistics(mapped, rows=rows, batch_size=3)
    expected = np.concatenate([values[rows].astype(np.float64).mean(axis=2),
                               values[rows].astype(np.float64).std(axis=2)], axis=1)
    np.testing.assert_allclose(features, expected, rtol=1e-10)
    np.testing.assert_allclose(pooled_mel_statistics(mapped)[rows], features, rtol=1e-12)


def test_rejects_non_spectrogram_shapes():
    with pytest.raises(ValueError, match="n_mels"):
        pooled_mel_statistics(np.zeros((3, 4)))
