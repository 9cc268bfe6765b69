"""Nodes of gan_augmentation on tiny 16 x 64 toy songs (32-frame GAN windows)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.gan.fitting import generate_synthetic_spectrograms, sample_conditions, train_gan
from music_emotion.gan.quality import (
    frechet_distance,
    mean_pairwise_distance,
)
from music_emotion.gan.quality_report import assess_synthetic_quality
from music_emotion.gan.training import GanTrainingConfig, TrainSet, update_ema
from music_emotion.models.gan import SpectrogramDiscriminator, SpectrogramGenerator
from music_emotion.study.metrics import ccc
from tests.conf_params import parameters

from .conftest import WINDOW_FRAMES, make_toy_data, read_toy_labels


def test_train_gan_returns_models_and_a_history_per_evaluation(toy_data, tiny_params):
    spectrograms, labels, splits = toy_data
    generator, discriminator, history = train_gan(spectrograms, labels, splits, tiny_params, 42, "cpu")
    assert isinstance(generator, SpectrogramGenerator) and isinstance(discriminator, SpectrogramDiscriminator)
    assert list(history["step"]) == [10, 20] and history["is_best"].sum() == 1
    assert {"generator_loss", "discriminator_loss", "aux_mse_real", "aux_mse_fake", "conditioning_ccc_valence",
            "conditioning_ccc_arousal", "frechet_ratio"} <= set(history.columns)
    assert np.isfinite(history[["generator_loss", "discriminator_loss"]].to_numpy()).all()
    # Scaling, window and provenance travel with the weights.
    assert (generator.config["db_min"], generator.config["db_max"]) == (-80.0, 0.0)
    assert (generator.config["n_mels"], generator.config["n_frames"]) == (16, WINDOW_FRAMES)
    assert generator.config["trained_on"]["n_songs"] == len(splits["train"])
    assert generator.config["selected_step"] == int(history.loc[history["is_best"], "step"].iloc[0])


def conditioning_ccc(generator) -> float:
    """The worse of the V and A CCCs between the conditions asked for and the band positions read back."""
    conditions = np.random.default_rng(0).uniform(-0.9, 0.9, size=(64, 2)).astype(np.float32)
    read_back = read_toy_labels(generator.generate(conditions, generator=torch.Generator().manual_seed(1)))
    return min(ccc(conditions[:, i], read_back[:, i]) for i in range(2))


def test_a_gan_learns_to_carry_a_visible_label_but_not_from_shuffled_conditions(tiny_params):
    """Band positions = (valence, arousal): the trained GAN's samples must carry the V/A they were asked for.
    Trained on shuffled labels (so it cannot learn what a condition means) the same check must fail."""
    spectrograms, labels, splits = make_toy_data(n_songs=64, n_train=48, seed=3)
    tiny_params["training"].update(steps=600, eval_every_steps=600)
    generator, _, _ = train_gan(spectrograms, labels, splits, tiny_params, 0, "cpu")
    shuffled = labels.copy()
    shuffled[["valence", "arousal"]] = labels[["valence", "arousal"]].to_numpy()[
        np.random.default_rng(1).permutation(64)]
    ignorant, _, _ = train_gan(spectrograms, shuffled, splits, tiny_params, 0, "cpu")
    assert min(ccc(labels[t].to_numpy(), read_toy_labels(spectrograms.values)[:, i])
               for i, t in enumerate(("valence", "arousal"))) > 0.95  # the reader itself is right on real songs
    assert conditioning_ccc(generator) >= 0.7  # 0.78 on a fresh 2-core venv (2026-12-02), 0.8+ on earlier ones
    assert conditioning_ccc(ignorant) < 0.3


@pytest.mark.slow  # three toy GANs; the default suite trains one (and its shuffled twin) in the test above
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_gan_carries_both_labels_for_every_seed(tiny_params, seed):
    """Not one lucky seed: the same recipe on three seeds (the toy data and the GAN both drawn from each). Measured
    on the 2-core machine: 0.76, 0.84, 0.78 (the bound leaves room for other CPUs' last bits); a GAN that ignores
    its condition reads ~0 (the shuffled-label twin above)."""
    spectrograms, labels, splits = make_toy_data(n_songs=64, n_train=48, seed=10 + seed)
    tiny_params["training"].update(steps=600, eval_every_steps=600)
    generator, _, _ = train_gan(spectrograms, labels, splits, tiny_params, seed, "cpu")
    assert conditioning_ccc(generator) >= 0.7


@pytest.mark.slow  # two toy GANs of 600 steps per seed; FiLM's shapes, init and save/load are fast tests
@pytest.mark.parametrize("seed", [0, 1])
def test_a_film_generator_with_vicinal_real_samples_carries_labels_and_a_shuffled_twin_does_not(tiny_params, seed):
    """The stronger conditioning (FiLM label embedding in G, CcGAN's vicinal real samples for D) learns the toy
    labels; trained on shuffled labels the same recipe cannot."""
    spectrograms, labels, splits = make_toy_data(n_songs=64, n_train=48, seed=10 + seed)
    tiny_params["generator"].update(conditioning="film", embedding_dim=16)
    tiny_params["training"].update(steps=600, eval_every_steps=600, vicinal_radius=0.15, vicinal_label_sigma=0.05)
    generator, _, _ = train_gan(spectrograms, labels, splits, tiny_params, seed, "cpu")
    assert generator.conditioning == "film" and generator.config["conditioning"] == "film"
    assert conditioning_ccc(generator) >= 0.7
    if seed == 0:
        shuffled = labels.copy()
        shuffled[["valence", "arousal"]] = labels[["valence", "arousal"]].to_numpy()[
            np.random.default_rng(1).permutation(64)]
        ignorant, _, _ = train_gan(spectrograms, shuffled, splits, tiny_params, seed, "cpu")
        assert conditioning_ccc(ignorant) < 0.3


def test_vicinal_positions_draw_neighbours_of_jittered_labels_in_reading_order():
    """Each target is a song's label + noise; the chosen song's label lies within the radius of its target (or is
    the original song when none does); targets and songs come back aligned, in the row order `batch` reads."""
    rng = np.random.default_rng(0)
    conditions = rng.uniform(-1, 1, size=(40, 2)).astype(np.float32)
    data = TrainSet(np.zeros((80, 4, 8), np.float32), rng.permutation(80)[:40], conditions, np.full(40, 8), 8)
    positions = rng.permutation(40)[:16]
    targets, chosen = data.vicinal_positions(positions, 0.05, 0.3, np.random.default_rng(1))
    assert targets.shape == (16, 2) and targets.dtype == np.float32 and np.abs(targets).max() <= 1
    assert list(data.rows[chosen]) == sorted(data.rows[chosen])
    distance = np.linalg.norm(conditions[chosen] - targets, axis=1)
    assert (distance <= 0.3).mean() > 0.8 and not (distance == 0).all()  # neighbours, not the songs themselves
    assert len(set(chosen) - set(positions)) > 0
    lonely, picked = data.vicinal_positions(positions, 0.0, 0.0, np.random.default_rng(1))
    assert sorted(picked) == sorted(positions)  # radius 0: every song is its own vicinity
    np.testing.assert_allclose(conditions[picked], lonely)


def test_vicinal_settings_out_of_range_are_refused(toy_data, tiny_params):
    spectrograms, labels, splits = toy_data
    tiny_params["training"]["vicinal_radius"] = -0.1
    with pytest.raises(ValueError, match="vicinal_radius"):
        train_gan(spectrograms, labels, splits, tiny_params, 0, "cpu")


@pytest.mark.parametrize("rule, kept", [("worst_target", 20), ("mean", 10)])
def test_the_worst_target_rule_does_not_let_arousal_carry_a_lagging_valence(toy_data, tiny_params, monkeypatch,
                                                                            rule, kept):
    """Step 10: arousal 0.99 but valence 0.55 (mean 0.77); step 20: both 0.75. The mean keeps step 10, the
    worst-target rule keeps step 20, whose valence is far better."""
    from music_emotion.gan import probe

    readings = iter([(0.55, 0.99), (0.75, 0.75), (0.1, 0.1)])

    def fake_measure(self, generator, device):
        v, a = next(readings)
        return {"conditioning_ccc_valence": v, "conditioning_ccc_arousal": a, "frechet_ratio": 1.0}

    monkeypatch.setattr(probe.ConditioningProbe, "measure", fake_measure)
    tiny_params["training"].update(steps=30, eval_every_steps=10)
    tiny_params["probe"]["select_on"] = rule
    generator, _, _ = train_gan(*toy_data, tiny_params, 42, "cpu")
    assert generator.config["selected_step"] == kept


def test_samples_far_from_real_windows_compete_only_when_none_is_closer(toy_data, tiny_params, monkeypatch):
    from music_emotion.gan import probe

    readings = iter([(0.9, 0.9, 8.0), (0.7, 0.7, 2.0), (0.6, 0.6, 2.5)])

    def fake_measure(self, generator, device):
        v, a, fd = next(readings)
        return {"conditioning_ccc_valence": v, "conditioning_ccc_arousal": a, "frechet_ratio": fd}

    monkeypatch.setattr(probe.ConditioningProbe, "measure", fake_measure)
    tiny_params["training"].update(steps=30, eval_every_steps=10)
    tiny_params["probe"]["max_frechet_ratio"] = 3.0
    generator, _, _ = train_gan(*toy_data, tiny_params, 42, "cpu")
    assert generator.config["selected_step"] == 20
    assert "Fréchet ratio <= 3" in generator.config["selected_by"]


@pytest.mark.parametrize("loss", ["bce", "hinge"])
def test_both_adversarial_losses_train(toy_data, tiny_params, loss):
    spectrograms, labels, splits = toy_data
    tiny_params["training"]["adversarial_loss"] = loss
    _, _, history = train_gan(spectrograms, labels, splits, tiny_params, 42, "cpu")
    assert np.isfinite(history["discriminator_loss"]).all()
    if loss == "hinge":  # hinge D loss is 2 for an undecided D (both margins violated by 1)
        assert 0.0 <= history["discriminator_loss"].iloc[0] <= 4.0


def test_the_notebook_recipe_runs_and_has_no_auxiliary_head(toy_data, tiny_params):
    import yaml

    from tests.conf_params import CONF

    recipe = yaml.safe_load((CONF / "gan_recipes" / "notebook.yml").read_text())["gan_augmentation"]
    for section in ("discriminator", "training"):
        tiny_params[section].update(recipe[section])
    tiny_params["training"].update(epochs=1)
    spectrograms, labels, splits = toy_data
    _, discriminator, history = train_gan(spectrograms, labels, splits, tiny_params, 42, "cpu")
    assert discriminator.aux is None and discriminator.config["condition_channels"]
    assert list(history["step"]) == [2]  # 16 train songs / batch 8 = 2 steps per epoch, 1 epoch; evaluated at the end
    assert (history["aux_mse_real"] == 0).all()


def test_an_auxiliary_head_that_could_read_the_condition_is_refused(toy_data, tiny_params):
    tiny_params["discriminator"].update(condition_channels=True, aux_regression=True)
    with pytest.raises(ValueError, match="aux_regression needs condition_channels: false"):
        train_gan(*toy_data, tiny_params, 42, "cpu")


def test_step_budget_and_epoch_budget(toy_data, tiny_params):
    config = GanTrainingConfig.from_params({**tiny_params["training"], "steps": None, "epochs": 3})
    assert config.total_steps(16) == 3 * 2
    assert GanTrainingConfig.from_params(tiny_params["training"]).total_steps(16) == 20
    tiny_params["training"].update(steps=7, eval_every_steps=3)
    _, _, history = train_gan(*toy_data, tiny_params, 42, "cpu")
    assert list(history["step"]) == [3, 6, 7]  # and always an evaluation at the last step


def test_ema_lags_behind_and_the_kept_generator_is_the_ema(toy_data, tiny_params):
    model = torch.nn.Linear(2, 2)
    ema = torch.nn.Linear(2, 2)
    ema.load_state_dict(model.state_dict())
    with torch.no_grad():
        model.weight.add_(1.0)
    update_ema(ema, model, 0.9, step=1000)
    torch.testing.assert_close(ema.weight, model.weight - 0.9)  # 10 % of the way
    update_ema(ema, model, 0.999, step=0)  # warm-up: d = 1/10 at the first step
    torch.testing.assert_close(ema.weight, model.weight - 0.9 * 0.1)

    spectrograms, labels, splits = toy_data
    with_ema, _, _ = train_gan(spectrograms, labels, splits, tiny_params, 42, "cpu")
    tiny_params["training"]["ema_decay"] = None
    raw, _, _ = train_gan(spectrograms, labels, splits, tiny_params, 42, "cpu")
    assert not all(torch.equal(a, b) for a, b in zip(with_ema.parameters(), raw.parameters(), strict=True))


def test_the_best_conditioned_evaluation_is_the_checkpoint_kept(toy_data, tiny_params, monkeypatch):
    """Checkpoint selection by the probe: make the 2nd of 3 evaluations the best and check its weights are kept."""
    from music_emotion.gan import probe

    scores = iter([0.1, 0.9, 0.3])
    snapshots = []

    def fake_measure(self, generator, device):
        snapshots.append({k: v.clone() for k, v in generator.state_dict().items()})
        value = next(scores)
        return {"conditioning_ccc_valence": value, "conditioning_ccc_arousal": value, "frechet_ratio": 1.0}

    monkeypatch.setattr(probe.ConditioningProbe, "measure", fake_measure)
    tiny_params["training"].update(steps=30, eval_every_steps=10)
    generator, _, history = train_gan(*toy_data, tiny_params, 42, "cpu")
    assert list(history["is_best"]) == [False, True, False] and generator.config["selected_step"] == 20
    for name, tensor in generator.state_dict().items():
        torch.testing.assert_close(tensor, snapshots[1][name])


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
    extraction = {**spectrograms.meta["extraction"], "ref": "absolute", "top_db": None}
    data = SpectrogramSet(spectrograms.ids, spectrograms.values, {"extraction": extraction})
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


def test_nan_losses_stop_training_naming_the_step(toy_data, tiny_params):
    spectrograms, labels, splits = toy_data
    broken = np.array(spectrograms.values)
    broken[spectrograms.indices_of(splits["train"][:1])] = np.nan
    data = SpectrogramSet(spectrograms.ids, broken, spectrograms.meta)
    with pytest.raises(FloatingPointError, match="by step 10"):
        train_gan(data, labels, splits, tiny_params, 42, "cpu")


def test_conditions_outside_the_unit_square_are_a_clear_error(toy_data, tiny_params):
    generator, _, _ = train_gan(*toy_data, tiny_params, 42, "cpu")
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\]"):
        generator.generate([[0.2, 1.5]])


def test_same_seed_gives_identical_weights_and_samples(toy_data, tiny_params):
    spectrograms, labels, splits = toy_data
    g1, _, h1 = train_gan(spectrograms, labels, splits, tiny_params, 7, "cpu")
    g2, _, h2 = train_gan(spectrograms, labels, splits, tiny_params, 7, "cpu")
    pd.testing.assert_frame_equal(h1.drop(columns="seconds"), h2.drop(columns="seconds"))
    generation = tiny_params["generation"]
    s1, l1 = generate_synthetic_spectrograms(g1, labels, splits, generation, 7, "cpu")
    s2, l2 = generate_synthetic_spectrograms(g2, labels, splits, generation, 7, "cpu")
    np.testing.assert_array_equal(s1.values, s2.values)
    pd.testing.assert_frame_equal(l1, l2)
    s3, _ = generate_synthetic_spectrograms(g1, labels, splits, generation, 8, "cpu")
    assert not np.allclose(s1.values, s3.values)


def test_generated_set_is_windows_with_their_conditions_streamed_to_disk(toy_data, tiny_params):
    spectrograms, labels, splits = toy_data
    generator, _, _ = train_gan(spectrograms, labels, splits, tiny_params, 42, "cpu")
    synthetic, synthetic_labels = generate_synthetic_spectrograms(generator, labels, splits, tiny_params["generation"],
                                                                  42, "cpu")
    assert isinstance(synthetic.values, np.memmap)  # streamed, not built in RAM
    assert synthetic.values.shape == (20, 16, WINDOW_FRAMES) and synthetic.values.dtype == np.float32
    assert synthetic.ids[:2] == ["gan-000000", "gan-000001"]
    assert synthetic.values.min() >= -80.0 and synthetic.values.max() <= 0.0
    assert synthetic.meta["source"] == "gan" and synthetic.meta["condition_sampling"] == "uniform"
    assert synthetic.meta["gan_train_song_ids"] == sorted(splits["train"])  # provenance checked by training
    assert synthetic.meta["generator_step"] == generator.config["selected_step"]
    assert list(synthetic_labels.columns) == ["sample_id", "valence", "arousal", "condition_sampling"]
    assert list(synthetic_labels["sample_id"]) == synthetic.ids


def test_condition_sampling_modes(toy_data):
    _, labels, splits = toy_data
    generation = parameters("gan_augmentation.generation", n_synthetic=500, condition_sampling="uniform")
    uniform = sample_conditions(labels, splits, generation, 0)
    assert uniform.shape == (500, 2) and uniform.min() >= -1 and uniform.max() <= 1
    assert uniform.min() < -0.9 and uniform.max() > 0.9
    generation.update(condition_sampling="train_labels", label_jitter=0.0)
    from_train = sample_conditions(labels, splits, generation, 0)
    train_pairs = labels.set_index("song_id").loc[splits["train"], ["valence", "arousal"]].to_numpy(np.float32)
    assert {tuple(row) for row in from_train} <= {tuple(row) for row in train_pairs}
    with pytest.raises(ValueError, match="condition_sampling must be one of"):
        sample_conditions(labels, splits, {**generation, "condition_sampling": "gaussian"}, 0)


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
    generator, _, _ = train_gan(spectrograms, labels, splits, tiny_params, 42, "cpu")
    synthetic, synthetic_labels = generate_synthetic_spectrograms(generator, labels, splits, tiny_params["generation"],
                                                                  42, "cpu")
    report = assess_synthetic_quality(spectrograms, labels, splits, synthetic, synthetic_labels,
                                      tiny_params["quality"], 42)
    assert report["feature"]["dim"] == 32
    assert (report["n_real_train"], report["n_real_val"], report["n_synthetic"]) == (16, 4, 20)
    assert report["n_real_train_windows"] == 16 * 3  # 64 frames, 32-frame windows 16 apart
    fd = report["frechet_distance"]
    assert fd["real_train_vs_synthetic"] > 0 and fd["real_train_vs_real_val_floor"] > 0
    for direction in ("train_real_test_synthetic", "train_synthetic_test_real", "train_real_test_real_reference"):
        for target in ("valence", "arousal"):
            assert -1.0 <= report["conditioning_fidelity_ccc"][direction][target] <= 1.0
    assert report["tstr_ccc_val"] == report["conditioning_fidelity_ccc"]["train_synthetic_test_real"]
    # On the toy set a ridge on real features predicts real val V/A well: the reference is meaningful.
    assert report["conditioning_fidelity_ccc"]["train_real_test_real_reference"]["valence"] > 0.5
    collapse = report["mode_collapse"]
    assert collapse["ratio"] == pytest.approx(
        collapse["mean_pairwise_distance_synthetic"] / collapse["mean_pairwise_distance_real_train"]
    )


def test_train_label_sampling_is_recorded_with_the_samples(toy_data, tiny_params):
    _, labels, splits = toy_data
    generator = SpectrogramGenerator({"n_mels": 16, "n_frames": WINDOW_FRAMES, "channels": 1, "latent_dim": 8,
                                      "condition_dim": 2, "db_min": -80.0, "db_max": 0.0, **tiny_params["generator"]})
    generation = {**tiny_params["generation"], "condition_sampling": "train_labels"}
    synthetic, synthetic_labels = generate_synthetic_spectrograms(generator, labels, splits, generation, 3, "cpu")
    assert synthetic.meta["condition_sampling"] == "train_labels"
    assert set(synthetic_labels["condition_sampling"]) == {"train_labels"}
    train_pairs = labels.set_index("song_id").loc[splits["train"], ["valence", "arousal"]].to_numpy()
    nearest = np.abs(synthetic_labels[["valence", "arousal"]].to_numpy()[:, None] - train_pairs[None]).sum(2).min(1)
    assert nearest.max() < 0.5  # each condition is a jittered train label (jitter 0.05)
