"""The gan_augmentation pipeline end to end: in memory, and through the real (versioned) catalog entries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.models.gan import SpectrogramDiscriminator, SpectrogramGenerator
from music_emotion.pipelines.gan_augmentation import create_pipeline
from tests.catalog_config import catalog_entries_for
from tests.conf_params import parameters

from .conftest import WINDOW_FRAMES

CONF = Path(__file__).resolve().parents[3] / "conf"
OUTPUTS = ("generator", "discriminator", "gan_history", "synthetic_spectrograms", "synthetic_labels", "gan_quality")


class _KeptMemoryDataset(MemoryDataset):
    """A MemoryDataset the runner cannot release, so the test can inspect intermediate outputs."""

    def _release(self) -> None:
        pass


def _inputs(toy_data, tiny_params) -> dict:
    spectrograms, labels, splits = toy_data
    return {
        "mel_spectrograms": spectrograms,
        "emotion_labels": labels,
        "song_splits": splits,
        "params:gan_augmentation": tiny_params,
        "params:gan_augmentation.generation": tiny_params["generation"],
        "params:gan_augmentation.quality": tiny_params["quality"],
        "params:seed": 42,
        "params:device": "auto",
    }


def test_pipeline_runs_in_memory_and_produces_every_output(toy_data, tiny_params):
    catalog = DataCatalog({name: MemoryDataset(value) for name, value in _inputs(toy_data, tiny_params).items()})
    for name in OUTPUTS:
        catalog[name] = _KeptMemoryDataset(copy_mode="assign")
    SequentialRunner().run(create_pipeline(), catalog)
    assert isinstance(catalog.load("generator"), SpectrogramGenerator)
    assert isinstance(catalog.load("discriminator"), SpectrogramDiscriminator)
    assert list(catalog.load("gan_history")["step"]) == [10, 20]  # 20 steps, evaluated every 10
    synthetic = catalog.load("synthetic_spectrograms")
    assert isinstance(synthetic, SpectrogramSet) and synthetic.values.shape == (20, 16, WINDOW_FRAMES)
    assert len(catalog.load("synthetic_labels")) == 20
    assert set(catalog.load("gan_quality")) >= {"frechet_distance", "conditioning_fidelity_ccc", "mode_collapse"}


def test_catalog_entries_are_versioned_and_round_trip(tmp_path, toy_data, tiny_params):
    entries = catalog_entries_for(create_pipeline(), root=tmp_path)
    assert set(entries) == set(OUTPUTS)
    for name, entry in entries.items():
        assert entry["versioned"] is True, name
        assert entry["metadata"]["kedro-viz"]["layer"]
    catalog = DataCatalog.from_config(entries)
    for name, value in _inputs(toy_data, tiny_params).items():
        catalog[name] = MemoryDataset(value)
    SequentialRunner().run(create_pipeline(), catalog)

    # A fresh catalog (as in a notebook) loads the saved generator and generates without training code.
    fresh = DataCatalog.from_config(entries)
    generator = fresh.load("generator")
    assert list((tmp_path / "06_models" / "generator").glob("*/generator/model.safetensors"))
    samples = generator.generate(np.array([[0.5, 0.5]]), generator=torch.Generator().manual_seed(0))
    assert samples.shape == (1, 16, WINDOW_FRAMES) and -80.0 <= samples.min() <= samples.max() <= 0.0
    synthetic = fresh.load("synthetic_spectrograms")
    labels = fresh.load("synthetic_labels")
    assert synthetic.values.shape == (20, 16, WINDOW_FRAMES) and synthetic.meta["source"] == "gan"
    assert list(labels["sample_id"]) == synthetic.ids
    history = fresh.load("gan_history")
    assert list(history.columns[:4]) == ["step", "epoch", "generator_loss", "discriminator_loss"]
    assert isinstance(fresh.load("gan_quality")["frechet_distance"]["real_train_vs_synthetic"], float)


@pytest.mark.parametrize("env", ["base", "demo"])
def test_parameter_files_define_a_buildable_gan(env):
    from music_emotion.gan.training import GanTrainingConfig

    params = parameters("gan_augmentation", env)
    vit = parameters("training.model", env)
    assert params["window_seconds"] >= vit["window_seconds"]  # the ViT crops its windows from GAN samples
    frames = round(params["window_seconds"] * 22050 / 512)
    n_mels = 128 if env == "base" else 64
    generator = SpectrogramGenerator({"n_mels": n_mels, "n_frames": frames, "channels": 1, "condition_dim": 2,
                                      "latent_dim": params["latent_dim"], **params["generator"]})
    out = generator(torch.zeros(1, params["latent_dim"]), torch.zeros(1, 2))
    assert out.shape == (1, 1, n_mels, frames)
    SpectrogramDiscriminator({"channels": 1, "condition_dim": 2, **params["discriminator"]})
    config = GanTrainingConfig.from_params(params["training"])
    assert params["generation"]["n_synthetic"] == (3200 if env == "base" else 320)
    assert params["generation"]["condition_sampling"] == "train_labels"
    assert config.adversarial_loss == "hinge" and config.ema_decay
