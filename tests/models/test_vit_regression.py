"""ViTForEmotionRegression: input preparation, save/reload, pretrained loading (offline), bad config."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from music_emotion.datasets import TorchModelDataset
from music_emotion.models.backbone_loading import CheckpointUnavailableError
from music_emotion.models.vit_regression import (
    ViTForEmotionRegression,
    build_vit_regressor,
    native_input_shape,
    predict_spectrograms,
    prepare_vit_inputs,
)

TINY_VIT = {
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "patch_size": 8,
    "image_size": 16,
}
EXTRACTION = {"n_mels": 12, "top_db": 80.0, "sample_rate": 22050}


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread, and the 2 shared cores are never oversubscribed."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def tiny_model(**overrides) -> ViTForEmotionRegression:
    params = {"checkpoint": None, "vit_config": TINY_VIT, "head_hidden_size": 8, **overrides}
    torch.manual_seed(0)
    return build_vit_regressor(params, EXTRACTION, (-80.0, 0.0))


def test_resize_inputs_are_three_normalised_channels():
    model = tiny_model()
    spec = torch.full((2, 12, 37), -80.0)
    spec[1] = 0.0  # loudest possible
    pixels = prepare_vit_inputs(spec, model.config)
    assert pixels.shape == (2, 3, 16, 16)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    torch.testing.assert_close(pixels[0], ((0 - mean) / std).expand(3, 16, 16))
    torch.testing.assert_close(pixels[1], ((1 - mean) / std).expand(3, 16, 16))
    assert model(pixels).shape == (2, 2)


def test_native_mode_keeps_the_spectrogram_geometry_and_runs():
    model = tiny_model(input_mode="native")
    spec = torch.linspace(-80, 0, 12 * 37).reshape(1, 12, 37).repeat(3, 1, 1)
    pixels = prepare_vit_inputs(spec, model.config)
    # 12 mels padded to 16 (2 patches of 8); 37 frames cropped to 32; no resampling of the kept values
    assert pixels.shape == (3, 3, 16, 32) == (3, 3, *native_input_shape(12, 37, 8))
    scaled = (spec[0, :, :32] + 80) / 80
    torch.testing.assert_close(pixels[0, 0, :12], (scaled - 0.485) / 0.229)
    assert model.predict(spec).shape == (3, 2)


def test_config_is_self_sufficient_and_reload_is_exact(tmp_path):
    model = tiny_model()
    config = json.loads(json.dumps(model.config))  # JSON-able
    assert config["backbone"]["hidden_size"] == 16 and config["head"]["input_size"] == 16
    assert config["input"]["db_range"] == [-80.0, 0.0] and config["extraction"] == EXTRACTION
    assert config["input"]["image_size"] == [16, 16]

    dataset = TorchModelDataset(filepath=str(tmp_path / "vit_model"))
    dataset.save(model)
    reloaded = dataset.load()
    assert isinstance(reloaded, ViTForEmotionRegression)
    spec = np.random.default_rng(0).uniform(-80, 0, size=(5, 12, 37)).astype(np.float32)
    np.testing.assert_array_equal(predict_spectrograms(model, spec), predict_spectrograms(reloaded, spec))


def test_local_checkpoint_directory_loads_weights_and_image_stats(tmp_path):
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(1)
    pretrained = ViTModel(ViTConfig(**TINY_VIT), add_pooling_layer=False)
    pretrained.save_pretrained(tmp_path)
    ViTImageProcessor(image_mean=[0.5, 0.5, 0.5], image_std=[0.25, 0.25, 0.25]).save_pretrained(tmp_path)

    model = build_vit_regressor({"checkpoint": str(tmp_path), "head_hidden_size": 8}, EXTRACTION, (-80.0, 0.0))
    assert model.config["input"]["image_mean"] == [0.5, 0.5, 0.5]
    assert model.config["input"]["image_std"] == [0.25, 0.25, 0.25]
    for name, tensor in pretrained.state_dict().items():
        torch.testing.assert_close(model.backbone.state_dict()[name], tensor, rtol=0, atol=0)


def test_freeze_backbone_leaves_only_the_head_trainable():
    model = tiny_model(freeze_backbone=True)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.head.parameters())


@pytest.mark.parametrize("offline", [True, False])
def test_uncached_hub_checkpoint_fails_fast_with_a_fix(monkeypatch, offline):
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:  # the probe must give up quickly on an unreachable hub (closed local port: refused at once)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv("HTTPS_PROXY", raising=False)
        monkeypatch.delenv("https_proxy", raising=False)
        monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    started = time.monotonic()
    with pytest.raises(CheckpointUnavailableError) as error:
        build_vit_regressor({"checkpoint": "no-such-org/no-such-vit"}, EXTRACTION, (-80.0, 0.0))
    assert time.monotonic() - started < 15
    message = str(error.value)
    assert "hf download no-such-org/no-such-vit" in message and "checkpoint: null" in message


def test_missing_local_directory_is_named():
    with pytest.raises(CheckpointUnavailableError, match="does not exist"):
        build_vit_regressor({"checkpoint": "./models/not-here"}, EXTRACTION, (-80.0, 0.0))


def test_head_and_backbone_hidden_size_mismatch_is_an_error():
    with pytest.raises(ValueError, match="hidden size is 16"):
        tiny_model(head_input_size=768)


def test_random_init_needs_a_vit_config():
    with pytest.raises(ValueError, match="vit_config"):
        build_vit_regressor({"checkpoint": None}, EXTRACTION, (-80.0, 0.0))
