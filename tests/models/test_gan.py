"""SpectrogramGenerator / SpectrogramDiscriminator: shapes from config, dB scaling, save/load, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from music_emotion.models.base import load_pretrained_model
from music_emotion.models.gan import SpectrogramDiscriminator, SpectrogramGenerator
from tests.conf_params import parameters


def _discriminator(**overrides) -> SpectrogramDiscriminator:
    """conf/base's discriminator (projection + auxiliary V/A head + spectral norm), shrunk."""
    return SpectrogramDiscriminator({"channels": 1, "condition_dim": 2, **parameters("gan_augmentation.discriminator"),
                                     **overrides})


def _generator(n_mels=16, n_frames=64, **extra) -> SpectrogramGenerator:
    torch.manual_seed(0)
    config = {"n_mels": n_mels, "n_frames": n_frames, "channels": 1, "condition_dim": 2, "latent_dim": 8,
              "base_channels": 16, "n_upsample": 2, "min_channels": 8, "db_min": -80.0, "db_max": 0.0, **extra}
    return SpectrogramGenerator(config)


@pytest.mark.parametrize(("n_mels", "n_frames", "n_upsample"), [(16, 64, 2), (64, 431, 4), (128, 1292, 5)])
def test_generator_output_has_exactly_the_configured_shape(n_mels, n_frames, n_upsample):
    generator = _generator(n_mels, n_frames, n_upsample=n_upsample, base_channels=8, min_channels=4)
    out = generator(torch.randn(2, 8), torch.tensor([[0.5, -0.5], [-1.0, 1.0]]))
    assert out.shape == (2, 1, n_mels, n_frames)
    assert out.min() >= -1 and out.max() <= 1


@pytest.mark.parametrize(("n_mels", "n_frames", "n_upsample"), [(16, 64, 1), (64, 431, 4)])
def test_a_film_generator_has_the_configured_shape_and_its_samples_follow_the_label(n_mels, n_frames, n_upsample):
    generator = _generator(n_mels, n_frames, n_upsample=n_upsample, base_channels=8, min_channels=4,
                           conditioning="film", embedding_dim=8)
    noise = torch.randn(1, 8).expand(2, -1)
    out = generator(noise, torch.tensor([[0.5, -0.5], [-1.0, 1.0]]))
    assert out.shape == (2, 1, n_mels, n_frames)
    assert out.min() >= -1 and out.max() <= 1
    assert not torch.allclose(out[0], out[1])  # the label reaches the output through the projection at init


def test_film_blocks_are_the_identity_at_initialisation():
    """The FiLM layers start at zero, so training starts from the unconditional block and learns how far to steer."""
    generator = _generator(conditioning="film", embedding_dim=8)
    x = torch.randn(2, 16, 4, 16)
    block = generator.blocks[0]
    plain = torch.relu(block.norm(block.conv(x)))
    assert torch.equal(block(x, torch.randn(2, 8)), plain)


def test_an_unknown_conditioning_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match=r"conditioning must be one of \('channels', 'film'\)"):
        _generator(conditioning="concat")


def test_a_saved_film_generator_reloads_identically(tmp_path):
    generator = _generator(conditioning="film", embedding_dim=8)
    generator.save_pretrained(tmp_path / "g")
    loaded = load_pretrained_model(tmp_path / "g")
    conditions = [[0.3, -0.2], [-0.7, 0.9]]
    np.testing.assert_array_equal(generator.generate(conditions, generator=torch.Generator().manual_seed(0)),
                                  loaded.generate(conditions, generator=torch.Generator().manual_seed(0)))


def test_discriminator_gives_one_logit_and_a_va_reading_per_sample_for_any_size():
    discriminator = _discriminator(base_channels=4, n_layers=3, max_channels=8)
    for shape in [(16, 64), (64, 431)]:
        logits, va = discriminator(torch.rand(3, 1, *shape) * 2 - 1, torch.zeros(3, 2))
        assert logits.shape == (3,) and va.shape == (3, 2)
        assert torch.isfinite(logits).all()
    notebook = _discriminator(base_channels=4, n_layers=2, condition_channels=True, aux_regression=False)
    logits, va = notebook(torch.rand(3, 1, 16, 64), torch.zeros(3, 2))
    assert va is None and notebook.config["condition_channels"]


def test_the_auxiliary_head_never_sees_the_condition():
    """Its V/A reading must come from the spectrogram alone, else G could satisfy it without carrying labels."""
    torch.manual_seed(0)
    discriminator = _discriminator(base_channels=4, n_layers=2).eval()
    x = torch.rand(2, 1, 16, 64)
    _, first = discriminator(x, torch.tensor([[1.0, 1.0], [0.0, 0.0]]))
    _, second = discriminator(x, torch.tensor([[-1.0, -1.0], [0.5, 0.5]]))
    torch.testing.assert_close(first, second)


def test_discriminator_depends_on_the_condition():
    torch.manual_seed(0)
    discriminator = _discriminator(base_channels=4, n_layers=2, dropout=0.0).eval()
    x = torch.rand(1, 1, 16, 64)
    assert discriminator(x, torch.tensor([[1.0, 1.0]]))[0] != discriminator(x, torch.tensor([[-1.0, -1.0]]))[0]


def test_db_scaling_round_trips_and_clips():
    generator = _generator()
    db = torch.tensor([-80.0, -40.0, 0.0, 5.0])
    unit = generator.to_unit(db)
    assert torch.allclose(unit, torch.tensor([-1.0, 0.0, 1.0, 1.0]))
    assert torch.allclose(generator.to_db(unit[:3]), db[:3])


def test_generate_returns_db_and_is_deterministic_for_a_seed():
    generator = _generator()
    conditions = np.array([[0.1, 0.2], [-0.3, 0.9], [1.0, -1.0]], dtype=np.float32)
    first = generator.generate(conditions, generator=torch.Generator().manual_seed(3), batch_size=2)
    second = generator.generate(conditions, generator=torch.Generator().manual_seed(3), batch_size=3)
    other = generator.generate(conditions, generator=torch.Generator().manual_seed(4))
    assert first.shape == (3, 16, 64) and first.dtype == np.float32
    assert first.min() >= -80.0 and first.max() <= 0.0
    np.testing.assert_allclose(first, second, atol=1e-3)  # dB; batch size does not change the samples
    assert not np.allclose(first, other)


def test_generate_rejects_bad_conditions_and_missing_db_range():
    with pytest.raises(ValueError, match="conditions must have shape"):
        _generator().generate(np.zeros((2, 3)))
    no_range = _generator(db_min=None, db_max=None)
    with pytest.raises(ValueError, match="db_min/db_max"):
        no_range.generate(np.zeros((1, 2)))


def test_missing_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="n_mels"):
        SpectrogramGenerator({"n_frames": 64})


def test_saved_generator_reloads_without_training_code(tmp_path):
    generator = _generator(extraction={"n_mels": 16, "top_db": 80.0})
    generator.save_pretrained(tmp_path / "g")
    assert not list((tmp_path / "g").glob("*.pkl"))
    loaded = load_pretrained_model(tmp_path / "g")
    assert isinstance(loaded, SpectrogramGenerator)
    assert loaded.config["db_min"] == -80.0 and loaded.config["extraction"]["top_db"] == 80.0
    conditions = np.array([[0.0, 0.5]], dtype=np.float32)
    np.testing.assert_array_equal(
        loaded.generate(conditions, generator=torch.Generator().manual_seed(1)),
        generator.generate(conditions, generator=torch.Generator().manual_seed(1)),
    )


def test_every_project_model_pickles_by_config_and_weights_spectral_norm_included():
    """ParallelRunner moves models between processes by pickling them."""
    import pickle

    discriminator = _discriminator(base_channels=4, n_layers=2, dropout=0.0).eval()
    clone = pickle.loads(pickle.dumps(discriminator))
    x, c = torch.rand(2, 1, 16, 64), torch.rand(2, 2) * 2 - 1
    torch.testing.assert_close(clone(x, c)[0], discriminator(x, c)[0])
    assert not clone.training
    generator = _generator()
    torch.testing.assert_close(pickle.loads(pickle.dumps(generator)).generate([[0.1, 0.2]], noise=torch.zeros(1, 8)),
                               generator.generate([[0.1, 0.2]], noise=torch.zeros(1, 8)))
