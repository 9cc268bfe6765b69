"""Nodes of gan_augmentation on tiny 1 x 16 x 64 toy data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from music_emotion.features import pooled_mel_statistics
from music_emotion.models.gan import SpectrogramDiscriminator, SpectrogramGenerator
from music_emotion.pipelines.gan_augmentation.nodes import (
    assess_gan_quality,
    generate_synthetic_spectrograms,
    sample_conditions,
    train_gan,
)
from music_emotion.pipelines.gan_augmentation.quality import (
    frechet_distance,
    mean_pairwise_distance,
)
from music_emotion.runtime import seed_everything
from music_emotion.spectrograms import SpectrogramSet

from .conftest import make_toy_data


def test_train_gan_returns_models_and_finite_history(toy_data, tiny_params):
    spectrograms, labels, splits = toy_data
    generator, discriminator, history = train_gan(spectrograms, labels, splits, tiny_params, 42, "cpu")
    assert isinstance(generator, SpectrogramGenerator) and isinstance(discriminator, SpectrogramDiscriminator)
    assert list(history["epoch"]) == [1, 2]
    assert {"generator_loss", "discriminator_loss"} <= set(history.columns)
    assert np.isfinite(history[["generator_loss", "discriminator_loss"]].to_numpy()).all()
    assert all(torch.isfinite(p).all() for p in generator.parameters())
    # Scaling and shapes travel with the weights; the extraction meta is copied.
    assert (generator.config["db_min"], generator.config["db_max"]) == (-80.0, 0.0)
    assert (generator.config["n_mels"], generator.config["n_frames"]) == (16, 64)
    assert generator.config["extraction"]["top_db"] == 80.0
    assert generator.config["trained_on"]["n_songs"] == len(splits["train"])


def test_train_gan_uses_only_train_songs(toy_data, tiny_params):
    spectrograms, labels, splits = toy_data
    poisoned = np.array(spectrograms.values)
    rows = spectrograms.indices_of(splits["val"] + splits["test"])
    poisoned[rows] = np.nan  # any read of a non-train song would make the losses NaN
    data = SpectrogramSet(spectrograms.ids, poisoned, spectrograms.meta)
    _, _, history = train_gan(data, labels, splits, tiny_params, 42, "cpu")
    assert np.isfinite(history[["generator_loss", "discriminator_loss"]].to_numpy()).all()


def test_db_range_falls_back_to_train_data_without_top_db(toy_data, tiny_params):
    spectrograms, labels, splits = toy_data
    data = SpectrogramSet(spectrograms.ids, spectrograms.values, {"extraction": {"ref": "absolute", "top_db": None}})
    tiny_params["training"]["epochs"] = 1
    generator, _, _ = train_gan(data, labels, splits, tiny_params, 42, "cpu")
    train_values = spectrograms.subset(splits["train"]).values
    assert generator.config["db_min"] == pytest.approx(float(train_values.min()))
    assert generator.config["db_max"] == pytest.approx(float(train_values.max()))
    assert generator.config["db_range_source"] == "train data min/max"


def test_empty_or_too_small_train_split_is_a_clear_error(toy_data, tiny_params):
    spectrograms, labels, splits = toy_data
    with pytest.raises(ValueError, match=r"song_splits\['train'\] is empty"):
        train_gan(spectrograms, labels, {**splits, "train": []}, tiny_params, 42, "cpu")
    with pytest.raises(ValueError, match="fewer than one batch"):
        train_gan(spectrograms, labels, {**splits, "train": splits["train"][:5]}, tiny_params, 42, "cpu")


def test_split_song_without_label_is_a_clear_error(toy_data, tiny_params):
    spectrograms, labels, splits = toy_data
    with pytest.raises(ValueError, match="no row in emotion_labels"):
        train_gan(spectrograms, labels.iloc[2:], splits, tiny_params, 42, "cpu")


def test_nan_losses_stop_training_naming_the_epoch(toy_data, tiny_params):
    spectrograms, labels, splits = toy_data
    broken = np.array(spectrograms.values)
    broken[spectrograms.indices_of(splits["train"][:1])] = np.nan
    data = SpectrogramSet(spectrograms.ids, broken, spectrograms.meta)
    with pytest.raises(FloatingPointError, match="epoch 1"):
        train_gan(data, labels, splits, tiny_params, 42, "cpu")


def test_same_seed_gives_identical_weights_and_samples(toy_data, tiny_params):
    spectrograms, labels, splits = toy_data
    tiny_params["training"]["epochs"] = 1
    g1, _, h1 = train_gan(spectrograms, labels, splits, tiny_params, 7, "cpu")
    g2, _, h2 = train_gan(spectrograms, labels, splits, tiny_params, 7, "cpu")
    pd.testing.assert_frame_equal(h1.drop(columns="seconds"), h2.drop(columns="seconds"))
    s1, l1 = generate_synthetic_spectrograms(g1, labels, splits, tiny_params, 7, "cpu")
    s2, l2 = generate_synthetic_spectrograms(g2, labels, splits, tiny_params, 7, "cpu")
    np.testing.assert_array_equal(s1.values, s2.values)
    pd.testing.assert_frame_equal(l1, l2)
    s3, _ = generate_synthetic_spectrograms(g1, labels, splits, tiny_params, 8, "cpu")
    assert not np.allclose(s1.values, s3.values)


def test_generated_set_has_the_mel_format_and_its_conditions(toy_data, tiny_params):
    spectrograms, labels, splits = toy_data
    tiny_params["training"]["epochs"] = 1
    generator, _, _ = train_gan(spectrograms, labels, splits, tiny_params, 42, "cpu")
    synthetic, synthetic_labels = generate_synthetic_spectrograms(generator, labels, splits, tiny_params, 42, "cpu")
    assert synthetic.values.shape == (20, 16, 64) and synthetic.values.dtype == np.float32
    assert synthetic.ids[:2] == ["gan-000000", "gan-000001"]
    assert synthetic.values.min() >= -80.0 and synthetic.values.max() <= 0.0
    assert synthetic.meta["source"] == "gan" and synthetic.meta["condition_sampling"] == "uniform"
    assert synthetic.meta["extraction"] == spectrograms.meta["extraction"]
    assert synthetic.meta["gan_train_song_ids"] == sorted(splits["train"])  # provenance checked by vit_training
    assert list(synthetic_labels.columns) == ["sample_id", "valence", "arousal", "condition_sampling"]
    assert list(synthetic_labels["sample_id"]) == synthetic.ids
    assert synthetic_labels[["valence", "arousal"]].abs().to_numpy().max() <= 1.0


def test_condition_sampling_modes(toy_data):
    _, labels, splits = toy_data
    uniform = sample_conditions(labels, splits, {"n_synthetic": 500, "condition_sampling": "uniform"}, 0)
    assert uniform.shape == (500, 2) and uniform.min() >= -1 and uniform.max() <= 1
    assert uniform.min() < -0.9 and uniform.max() > 0.9
    from_train = sample_conditions(
        labels, splits, {"n_synthetic": 200, "condition_sampling": "train_labels", "label_jitter": 0.0}, 0
    )
    train_pairs = labels.set_index("song_id").loc[splits["train"], ["valence", "arousal"]].to_numpy(np.float32)
    assert {tuple(row) for row in from_train} <= {tuple(row) for row in train_pairs}
    with pytest.raises(ValueError, match="condition_sampling must be one of"):
        sample_conditions(labels, splits, {"n_synthetic": 5, "condition_sampling": "gaussian"}, 0)


def test_frechet_and_pairwise_helpers_on_known_cases():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shifted = frechet_distance(a, a + np.array([3.0, 0.0, 4.0]))
    assert shifted == pytest.approx(25.0, rel=1e-3)  # same covariance: only the mean term remains
    assert mean_pairwise_distance(np.ones((10, 4)), 100, rng) == 0.0
    assert mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0]]), 100, rng) == pytest.approx(5.0)


def test_quality_report_figures(toy_data, tiny_params):
    spectrograms, labels, splits = toy_data
    tiny_params["training"]["epochs"] = 1
    generator, _, _ = train_gan(spectrograms, labels, splits, tiny_params, 42, "cpu")
    synthetic, synthetic_labels = generate_synthetic_spectrograms(generator, labels, splits, tiny_params, 42, "cpu")
    report = assess_gan_quality(spectrograms, labels, splits, synthetic, synthetic_labels, tiny_params, 42)
    assert report["feature"]["dim"] == 32
    assert (report["n_real_train"], report["n_real_val"], report["n_synthetic"]) == (16, 4, 20)
    fd = report["frechet_distance"]
    assert fd["real_train_vs_synthetic"] > 0 and fd["real_train_vs_real_val_floor"] > 0
    for direction in ("train_real_test_synthetic", "train_synthetic_test_real", "train_real_test_real_reference"):
        for target in ("valence", "arousal"):
            assert -1.0 <= report["conditioning_fidelity_ccc"][direction][target] <= 1.0
    # On the toy set a ridge on real features predicts real val V/A well: the reference is meaningful.
    assert report["conditioning_fidelity_ccc"]["train_real_test_real_reference"]["valence"] > 0.5
    collapse = report["mode_collapse"]
    assert collapse["ratio"] == pytest.approx(
        collapse["mean_pairwise_distance_synthetic"] / collapse["mean_pairwise_distance_real_train"]
    )
    # Real val compared with itself-as-synthetic: the distance equals the floor and nothing collapses.
    as_synthetic = SpectrogramSet(
        [f"gan-{i:06d}" for i in range(len(splits["val"]))], spectrograms.subset(splits["val"]).values, {}
    )
    val_labels = labels.set_index("song_id").loc[splits["val"], ["valence", "arousal"]].reset_index(drop=True)
    val_labels.insert(0, "sample_id", as_synthetic.ids)
    same = assess_gan_quality(spectrograms, labels, splits, as_synthetic, val_labels, tiny_params, 42)
    assert same["frechet_distance"]["real_train_vs_synthetic"] == pytest.approx(
        same["frechet_distance"]["real_train_vs_real_val_floor"]
    )
    assert same["conditioning_fidelity_ccc"]["train_real_test_synthetic"]["valence"] == pytest.approx(
        same["conditioning_fidelity_ccc"]["train_real_test_real_reference"]["valence"]
    )


def test_training_moves_synthetic_statistics_towards_the_real_ones(tiny_params):
    """Would fail for an untrained generator: the trained one must be clearly closer to the real data."""
    spectrograms, labels, splits = make_toy_data(n_songs=48, n_train=48)
    tiny_params["training"]["epochs"] = 10
    seed = 1
    trained, _, _ = train_gan(spectrograms, labels, splits, tiny_params, seed, "cpu")
    seed_everything(seed)  # same initial weights as the trained generator had
    untrained = SpectrogramGenerator({k: v for k, v in trained.config.items()})
    conditions = labels[["valence", "arousal"]].to_numpy(np.float32)
    real = pooled_mel_statistics(spectrograms.values)
    fake_trained = pooled_mel_statistics(trained.generate(conditions, generator=torch.Generator().manual_seed(5)))
    fake_untrained = pooled_mel_statistics(untrained.generate(conditions, generator=torch.Generator().manual_seed(5)))
    assert frechet_distance(real, fake_trained) < 0.8 * frechet_distance(real, fake_untrained)
    band_error_trained = np.abs(fake_trained[:, :16].mean(0) - real[:, :16].mean(0)).mean()
    band_error_untrained = np.abs(fake_untrained[:, :16].mean(0) - real[:, :16].mean(0)).mean()
    assert band_error_trained < 0.6 * band_error_untrained


def test_train_label_sampling_is_recorded_with_the_samples(toy_data, tiny_params):
    _, labels, splits = toy_data
    generator = SpectrogramGenerator(
        {"n_mels": 16, "n_frames": 64, "latent_dim": 8, "db_min": -80.0, "db_max": 0.0, **tiny_params["generator"]}
    )
    tiny_params["generation"]["condition_sampling"] = "train_labels"
    synthetic, synthetic_labels = generate_synthetic_spectrograms(generator, labels, splits, tiny_params, 3, "cpu")
    assert synthetic.meta["condition_sampling"] == "train_labels"
    assert set(synthetic_labels["condition_sampling"]) == {"train_labels"}
    train_pairs = labels.set_index("song_id").loc[splits["train"], ["valence", "arousal"]].to_numpy()
    nearest = np.abs(synthetic_labels[["valence", "arousal"]].to_numpy()[:, None] - train_pairs[None]).sum(2).min(1)
    assert nearest.max() < 0.5  # each condition is a jittered train label (jitter 0.05)
