"""ViTForEmotionRegression: input preparation, strided patches, save/reload, offline loading, bad config."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from music_emotion.datasets import TorchModelDataset
from music_emotion.models.backbone_loading import CheckpointUnavailableError
from music_emotion.models.song_prediction import predict_songs
from music_emotion.models.vit_regression import (
    ViTForEmotionRegression,
    ViTModelParams,
    build_vit_regressor,
    native_grid,
    prepare_vit_inputs,
)
from tests.conf_params import parameters
from tests.torch_fixtures import one_torch_thread  # noqa: F401 - autouse for this module

TINY_VIT = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
            "patch_size": 8, "image_size": 16}
EXTRACTION = {"n_mels": 12, "top_db": 80.0, "sample_rate": 22050, "hop_length": 512}
DATASET_NORM = {"db_mean": -40.0, "db_std": 10.0, "db_range": [-80.0, 0.0], "pad_db": -80.0}
DB_RANGE_NORM = {"db_range": [-80.0, 0.0], "pad_db": -80.0}


def model_params(**overrides) -> ViTModelParams:
    return ViTModelParams.from_params(parameters("training.model", **{
        "checkpoint": None, "vit_config": TINY_VIT, "head_hidden_size": 8, "patch_stride": 8, **overrides}))


def tiny_model(stats=DATASET_NORM, window=(24, 8), **overrides) -> ViTForEmotionRegression:
    torch.manual_seed(0)
    return build_vit_regressor(model_params(**overrides), EXTRACTION, stats, window)


def test_resize_inputs_with_db_range_are_three_imagenet_normalised_channels():
    model = tiny_model(DB_RANGE_NORM, input_mode="resize", normalisation="db_range")
    spec = torch.full((2, 12, 37), -80.0)
    spec[1] = 0.0  # loudest possible
    pixels = prepare_vit_inputs(spec, model.config["input"])
    assert pixels.shape == (2, 3, 16, 16)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    torch.testing.assert_close(pixels[0], ((0 - mean) / std).expand(3, 16, 16))
    torch.testing.assert_close(pixels[1], ((1 - mean) / std).expand(3, 16, 16))
    assert model(pixels).shape == (2, 2)


def test_dataset_normalisation_uses_the_stored_train_statistics():
    model = tiny_model(input_mode="native", patch_stride=8)
    pixels = prepare_vit_inputs(torch.full((1, 12, 24), -30.0), model.config["input"])
    torch.testing.assert_close(pixels[0, :, :12], torch.full((3, 12, 24), (-30.0 + 40.0) / 20.0))
    assert pixels.shape == (1, 3, 16, 24)  # 12 mel bins padded up to two 8-bin patches


@pytest.mark.parametrize(("stride", "grid"), [(8, (2, 3)), (4, (2, 5)), (2, (3, 9))])
def test_overlapping_patches_give_the_expected_token_grid(stride, grid):
    """Patch stride below the patch size = overlapping patches (AST): more tokens, same weights.
    12 mel bins x 24 frames, 8 x 8 patches: padded only as far as the stride needs."""
    model = tiny_model(input_mode="native", patch_stride=stride)
    rows, cols = native_grid(12, 24, 8, stride)
    assert (rows, cols) == grid
    tokens = model.backbone(pixel_values=prepare_vit_inputs(torch.randn(2, 12, 24) - 40, model.config["input"]))
    assert tokens.last_hidden_state.shape == (2, 1 + rows * cols, 16)


def test_tanh_head_bounds_every_prediction():
    model = tiny_model(input_mode="native")
    with torch.no_grad():
        model.head[-1].bias.fill_(50.0)  # a head pushed far outside [-1, 1]
        out = model.predict(torch.randn(4, 12, 24) * 30 - 40)
    assert out.abs().max() <= 1.0
    linear = tiny_model(input_mode="native", head_activation="none")
    with torch.no_grad():
        linear.head[-1].bias.fill_(50.0)
        assert linear.predict(torch.randn(4, 12, 24) * 30 - 40).abs().max() > 1.0


def test_config_is_self_sufficient_and_reload_is_exact(tmp_path):
    model = tiny_model(input_mode="native", patch_stride=4).eval()
    dataset = TorchModelDataset(filepath=str(tmp_path / "vit"))
    dataset.save(model)
    reloaded = dataset.load()
    values = np.random.default_rng(0).normal(-40, 10, size=(3, 12, 40)).astype(np.float32)
    a = predict_songs(model, values, np.arange(3), np.full(3, 40), 8, torch.device("cpu"))
    b = predict_songs(reloaded, values, np.arange(3), np.full(3, 40), 8, torch.device("cpu"))
    np.testing.assert_array_equal(a.windows, b.windows)
    assert reloaded.config["input"]["db_mean"] == -40.0 and reloaded.window_frames == 24


def test_a_model_without_normalisation_settings_is_refused(tmp_path):
    model = tiny_model(input_mode="native")
    config = {**model.config, "input": {k: v for k, v in model.config["input"].items() if k != "normalisation"}}
    with pytest.raises(ValueError, match="retrain"):
        ViTForEmotionRegression(config)


def test_local_checkpoint_directory_loads_weights_and_image_stats(tmp_path):
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(1)
    pretrained = ViTModel(ViTConfig(**TINY_VIT), add_pooling_layer=False)
    pretrained.save_pretrained(tmp_path)
    ViTImageProcessor(image_mean=[0.5, 0.5, 0.5], image_std=[0.25, 0.25, 0.25]).save_pretrained(tmp_path)

    model = build_vit_regressor(model_params(checkpoint=str(tmp_path), vit_config=None), EXTRACTION, DB_RANGE_NORM,
                                (24, 8))
    assert model.config["input"]["image_mean"] == [0.5, 0.5, 0.5]
    assert model.config["input"]["image_std"] == [0.25, 0.25, 0.25]
    for name, tensor in pretrained.state_dict().items():  # strided embeddings keep the checkpoint's names
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
        build_vit_regressor(model_params(checkpoint="no-such-org/no-such-vit"), EXTRACTION, DATASET_NORM, (24, 8))
    assert time.monotonic() - started < 15
    message = str(error.value)
    assert "hf download no-such-org/no-such-vit" in message and "checkpoint: null" in message


def test_missing_local_directory_is_named():
    with pytest.raises(CheckpointUnavailableError, match="does not exist"):
        build_vit_regressor(model_params(checkpoint="./models/not-here"), EXTRACTION, DATASET_NORM, (24, 8))


@pytest.mark.parametrize(("key", "value", "message"), [
    ("input_mode", "stretch", "input_mode"),
    ("normalisation", "minmax", "normalisation"),
    ("window_seconds", 0, "window_seconds"),
])
def test_bad_model_parameters_name_the_key(key, value, message):
    with pytest.raises(ValueError, match=message):
        model_params(**{key: value})


def test_patch_stride_larger_than_the_patch_is_an_error():
    with pytest.raises(ValueError, match="patch_stride"):
        tiny_model(input_mode="native", patch_stride=9)


def test_missing_or_unknown_keys_point_at_the_conf_file():
    params = parameters("training.model")
    del params["window_seconds"]
    params["windw"] = 3
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['windw'\], missing key\(s\) \['window_seconds'\]"):
        ViTModelParams.from_params(params)
