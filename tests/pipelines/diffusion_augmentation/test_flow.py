"""The flow-matching generator on the GAN tests' toy data (band positions = valence/arousal): it learns to carry a
visible label, a twin trained on shuffled labels does not, sampling is seeded per sample, and the diffusion
pipeline writes the same kind of outputs as the GAN's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from music_emotion.diffusion.fitting import train_diffusion
from music_emotion.diffusion.training import FlowTrainingConfig
from music_emotion.gan.fitting import generate_synthetic_spectrograms
from music_emotion.gan.quality_report import assess_synthetic_quality
from music_emotion.models.base import load_pretrained_model
from music_emotion.models.flow import SpectrogramFlow
from music_emotion.study.metrics import ccc
from tests.conf_params import parameters
from tests.pipelines.diffusion_augmentation.conftest import tiny_flow_parameters
from tests.pipelines.gan_augmentation.conftest import WINDOW_FRAMES, make_toy_data, read_toy_labels
from tests.torch_fixtures import one_torch_thread  # noqa: F401 - autouse for this module


@pytest.fixture
def flow_params():
    return tiny_flow_parameters()


@pytest.fixture
def generation():
    return parameters("gan_augmentation.generation", n_synthetic=24, batch_size=8, condition_sampling="uniform")


def conditioning_ccc(flow: SpectrogramFlow) -> float:
    """The worse of the V and A CCCs between the conditions asked for and the band positions read back."""
    conditions = np.random.default_rng(0).uniform(-0.9, 0.9, size=(64, 2)).astype(np.float32)
    out = np.empty((64, flow.height, flow.width), dtype=np.float32)
    flow.sample_into(conditions, out, 1, 32)
    read_back = read_toy_labels(out)
    return min(ccc(conditions[:, i], read_back[:, i]) for i in range(2))


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
def test_the_flow_carries_a_visible_label_for_every_seed_and_a_shuffled_twin_does_not(flow_params, seed):
    spectrograms, labels, splits = make_toy_data(n_songs=64, n_train=48, seed=10 + seed)
    flow, history = train_diffusion(spectrograms, labels, splits, flow_params, seed, "cpu")
    assert list(history["step"]) == [200, 400] and history["flow_loss"].iloc[-1] < history["flow_loss"].iloc[0]
    assert conditioning_ccc(flow) >= 0.8
    if seed == 0:
        shuffled = labels.copy()
        shuffled[["valence", "arousal"]] = labels[["valence", "arousal"]].to_numpy()[
            np.random.default_rng(1).permutation(64)]
        ignorant, _ = train_diffusion(spectrograms, shuffled, splits, flow_params, seed, "cpu")
        assert conditioning_ccc(ignorant) < 0.3


def test_guidance_zero_is_the_plain_conditional_field_and_guidance_extrapolates(flow_params):
    spectrograms, labels, splits = make_toy_data(n_songs=24, seed=3)
    flow_params["training"]["steps"] = 20
    flow, _ = train_diffusion(spectrograms, labels, splits, flow_params, 0, "cpu")
    x = torch.randn(4, 1, flow.height, flow.width)
    t, c = torch.full((4,), 0.5), torch.zeros(4, 2)
    with torch.no_grad():
        conditional = flow(x, t, c)
        unconditional = flow(x, t, c, torch.zeros(4, dtype=torch.bool))
        assert torch.equal(flow.guided_velocity(x, t, c, 0.0), conditional)
        torch.testing.assert_close(flow.guided_velocity(x, t, c, 2.0),
                                   conditional + 2.0 * (conditional - unconditional), rtol=1e-4, atol=1e-5)


def test_samples_depend_on_the_seed_only_not_the_batch_size_and_survive_a_save(flow_params, tmp_path, generation):
    spectrograms, labels, splits = make_toy_data(n_songs=24, seed=3)
    flow_params["training"]["steps"] = 10
    flow, _ = train_diffusion(spectrograms, labels, splits, flow_params, 0, "cpu")
    conditions = np.random.default_rng(0).uniform(-1, 1, size=(10, 2)).astype(np.float32)
    a, b = (np.empty((10, flow.height, flow.width), dtype=np.float32) for _ in range(2))
    flow.sample_into(conditions, a, 7, 3)
    flow.sample_into(conditions, b, 7, 10)
    np.testing.assert_allclose(a, b, atol=1e-4)
    flow.save_pretrained(tmp_path / "flow")
    loaded = load_pretrained_model(tmp_path / "flow")
    assert isinstance(loaded, SpectrogramFlow) and loaded.config["trained_on"]["song_ids"] == sorted(splits["train"])
    c = np.empty_like(a)
    loaded.sample_into(conditions, c, 7, 4)
    np.testing.assert_allclose(a, c, atol=1e-4)
    assert a.min() >= flow.db_range[0] and a.max() <= flow.db_range[1]


def test_the_diffusion_samples_are_a_synthetic_set_judged_like_the_gans(flow_params, generation):
    spectrograms, labels, splits = make_toy_data(n_songs=24, seed=3)
    flow_params["training"]["steps"] = 10
    flow, _ = train_diffusion(spectrograms, labels, splits, flow_params, 0, "cpu")
    synthetic, synthetic_labels = generate_synthetic_spectrograms(flow, labels, splits, generation, 5, "cpu")
    assert synthetic.values.shape == (24, 16, WINDOW_FRAMES) and synthetic.meta["source"] == "diffusion"
    assert synthetic.ids[0] == "diffusion-000000" and list(synthetic_labels["sample_id"]) == synthetic.ids
    assert synthetic.meta["gan_train_song_ids"] == sorted(splits["train"])  # provenance, read before training on it
    quality = parameters("gan_augmentation.quality", pairwise_max_samples=50)
    report = assess_synthetic_quality(spectrograms, labels, splits, synthetic, synthetic_labels, quality, 0)
    assert report["n_synthetic"] == 24 and set(report["independent_reader"]) >= {"valence", "arousal"}


def test_a_misspelt_or_out_of_range_setting_names_the_parameter(flow_params):
    spectrograms, labels, splits = make_toy_data(n_songs=24, seed=3)
    flow_params["training"]["label_dropout"] = 1.0
    with pytest.raises(ValueError, match="label_dropout"):
        train_diffusion(spectrograms, labels, splits, flow_params, 0, "cpu")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['stepz'\]"):
        FlowTrainingConfig.from_params({**parameters("diffusion_augmentation.training"), "stepz": 3})
    flow_params["training"]["label_dropout"] = 0.1
    flow_params["sampling"]["guidance"] = -1
    with pytest.raises(ValueError, match="guidance"):
        train_diffusion(spectrograms, labels, splits, flow_params, 0, "cpu")


def test_too_few_train_songs_for_a_batch_is_a_clear_error(flow_params):
    spectrograms, labels, splits = make_toy_data(n_songs=24, seed=3)
    flow_params["training"]["batch_size"] = 64
    with pytest.raises(ValueError, match="fewer than one batch"):
        train_diffusion(spectrograms, labels, splits, flow_params, 0, "cpu")


