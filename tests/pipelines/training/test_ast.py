"""AST arms: the tiny random-init AST learns, reads its own features, is scored on the same TEST songs as the ViT,
loads from a local checkpoint with the checkpoint's normalisation, fails fast offline, and never loads as a ViT."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from music_emotion.data import TARGETS
from music_emotion.models.ast_regression import ASTForEmotionRegression
from music_emotion.models.backbone_loading import CheckpointUnavailableError
from music_emotion.models.base import load_pretrained_model
from music_emotion.models.vit_regression import ViTForEmotionRegression
from music_emotion.pipelines.training import nodes
from music_emotion.study import arm_fitting
from music_emotion.study.arms import parse_arms

from .conftest import TINY_AST, fbank_set

AST_ARM = {"model": "ast"}


def ast_toy_corpus(n: int, seed: int):
    rng = np.random.default_rng(seed)
    ids = list(range(n))
    targets = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    labels = pd.DataFrame({"song_id": ids, "valence": targets[:, 0], "arousal": targets[:, 1]})
    cut = [int(n * 0.7), int(n * 0.85)]
    splits = {"train": ids[: cut[0]], "val": ids[cut[0] : cut[1]], "test": ids[cut[1] :]}
    return fbank_set(ids, targets, seed + 1), labels, splits


def test_tiny_ast_learns_a_toy_label_and_beats_the_mean(tiny_params):
    features, labels, splits = ast_toy_corpus(120, 7)
    tiny_params["optimisation"].update(epochs=40, learning_rate=3e-3)
    model, history = arm_fitting.train_arm(features, labels, splits, AST_ARM, tiny_params, 42, "cpu", "ast")
    mean = arm_fitting.fit_mean_baseline(labels, splits)
    # the mean baseline reads only ids from the log-mel slot; the AST arm is given ast_features by its kind
    _, report = nodes.evaluate_test_set(features, labels, splits, tiny_params, 0, "cpu", ast_features=features,
                                        ast=model, mean=mean)
    assert isinstance(model, ASTForEmotionRegression) and model.window_frames == TINY_AST["max_length"]
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    for target in TARGETS:
        assert report["ast"][target]["ccc"]["value"] >= 0.8
        assert report["ast"][target]["rmse"]["value"] < report["mean"][target]["rmse"]["value"]


def test_vit_and_ast_arms_are_scored_on_the_same_test_songs(real_data, ast_features, tiny_params):
    mel, labels, splits = real_data
    vit, _ = arm_fitting.train_arm(mel, labels, splits, {"model": "vit"}, tiny_params, 42, "cpu", "vit")
    ast, _ = arm_fitting.train_arm(ast_features, labels, splits, AST_ARM, tiny_params, 42, "cpu", "ast")
    predictions, report = nodes.evaluate_test_set(mel, labels, splits, tiny_params, 0, "cpu",
                                                  ast_features=ast_features, vit=vit, ast=ast)
    assert report["ast"]["n_songs"] == report["vit"]["n_songs"] == len(splits["test"])
    by_arm = {arm: rows["song_id"].tolist() for arm, rows in predictions.groupby("model")}
    assert by_arm["ast"] == by_arm["vit"] == splits["test"]
    with pytest.raises(ValueError, match="needs ast_features"):
        nodes.evaluate_test_set(mel, labels, splits, tiny_params, 0, "cpu", ast=ast)


def test_an_ast_arm_refuses_log_mel_input(real_data, tiny_params):
    mel, labels, splits = real_data
    with pytest.raises(ValueError, match="an AST arm needs ast_features"):
        arm_fitting.train_arm(mel, labels, splits, AST_ARM, tiny_params, 42, "cpu", "ast")


def test_a_gan_arm_on_ast_features_is_explicitly_unavailable():
    """The GAN learns log-mel spectrograms; its samples are not AST input, so `ast + synthetic` is refused in YAML."""
    for generator in (True, "gan", "diffusion"):
        with pytest.raises(ValueError, match=r"arms.ast_gan: `synthetic:` is not available for `model: ast`"):
            parse_arms({"ast_gan": {"model": "ast", "synthetic": generator}}, None, "arms")
    with pytest.raises(ValueError, match=r"arms.vit_x.synthetic must be one of \['gan', 'diffusion'\]"):
        parse_arms({"vit_x": {"model": "vit", "synthetic": "difusion"}}, None, "arms")
    assert parse_arms({"vit_g": {"model": "vit", "synthetic": True}}, None, "arms")["vit_g"].synthetic == "gan"
    assert parse_arms({"ast_masked": {"model": "ast", "augmentations": ["specaugment"]}}, None, "arms")


def test_saved_ast_never_loads_as_a_vit_and_the_reverse(tmp_path, real_data, ast_features, tiny_params):
    mel, labels, splits = real_data
    tiny_params["optimisation"]["epochs"] = 1
    ast, _ = arm_fitting.train_arm(ast_features, labels, splits, AST_ARM, tiny_params, 42, "cpu", "ast")
    vit, _ = arm_fitting.train_arm(mel, labels, splits, {"model": "vit"}, tiny_params, 42, "cpu", "vit")
    ast.save_pretrained(tmp_path / "ast")
    vit.save_pretrained(tmp_path / "vit")
    with pytest.raises(ValueError, match="holds a ASTForEmotionRegression, not a ViTForEmotionRegression"):
        ViTForEmotionRegression.from_pretrained(tmp_path / "ast")
    with pytest.raises(ValueError, match="holds a ViTForEmotionRegression, not a ASTForEmotionRegression"):
        ASTForEmotionRegression.from_pretrained(tmp_path / "vit")
    # a config edited to name the other class is still refused, by the family it records
    config = json.loads((tmp_path / "ast" / "config.json").read_text())
    config["model_class"] = "music_emotion.models.vit_regression.ViTForEmotionRegression"
    (tmp_path / "ast" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="config is for the 'ast' family"):
        load_pretrained_model(tmp_path / "ast")
    # the generic loader picks the saved family and reproduces the predictions
    reloaded = load_pretrained_model(tmp_path / "vit")
    x = torch.randn(2, mel.shape[0], vit.window_frames)
    assert torch.equal(reloaded.predict(x), vit.eval().predict(x))


def test_local_checkpoint_gives_its_normalisation_and_must_match_the_features(tmp_path, real_data, ast_features,
                                                                              tiny_params):
    from transformers import ASTConfig, ASTFeatureExtractor, ASTModel

    mel, labels, splits = real_data
    checkpoint = tmp_path / "tiny-ast"
    ASTModel(ASTConfig(**TINY_AST)).save_pretrained(checkpoint)
    ASTFeatureExtractor(num_mel_bins=TINY_AST["num_mel_bins"], mean=-3.5, std=2.5).save_pretrained(checkpoint)
    tiny_params["ast"].update(checkpoint=str(checkpoint), normalisation="checkpoint")
    tiny_params["optimisation"]["epochs"] = 1
    model, _ = arm_fitting.train_arm(ast_features, labels, splits, AST_ARM, tiny_params, 42, "cpu", "ast")
    assert model.config["input"]["feature_mean"] == -3.5 and model.config["input"]["feature_std"] == 2.5

    ASTModel(ASTConfig(**{**TINY_AST, "num_mel_bins": 24})).save_pretrained(checkpoint)
    with pytest.raises(ValueError, match="the AST takes 24 mel bins, ast_features have 16"):
        arm_fitting.train_arm(ast_features, labels, splits, AST_ARM, tiny_params, 42, "cpu", "ast")


def test_random_init_with_checkpoint_normalisation_is_a_clear_error(real_data, ast_features, tiny_params):
    _, labels, splits = real_data
    tiny_params["ast"]["normalisation"] = "checkpoint"
    with pytest.raises(ValueError, match="set training.ast.normalisation: dataset"):
        arm_fitting.train_arm(ast_features, labels, splits, AST_ARM, tiny_params, 42, "cpu", "ast")


def test_missing_ast_checkpoint_fails_within_seconds_with_the_download_command(real_data, ast_features, tiny_params):
    _, labels, splits = real_data
    tiny_params["ast"]["checkpoint"] = "MIT/ast-finetuned-audioset-10-10-0.4593"
    with pytest.raises(CheckpointUnavailableError) as error:
        arm_fitting.train_arm(ast_features, labels, splits, AST_ARM, tiny_params, 42, "cpu", "ast")
    message = str(error.value)
    assert "hf download MIT/ast-finetuned-audioset-10-10-0.4593 --local-dir data/06_models/pretrained/ast" in message
    assert "training.ast.checkpoint" in message and "training.ast.ast_config" in message


def test_a_hub_checkpoint_fetches_its_preprocessor_config_when_the_hub_answers(tmp_path, monkeypatch):
    """`from_pretrained` downloads config.json and the weights only: the normalisation file is fetched on its own."""
    import huggingface_hub

    from music_emotion.models import backbone_loading

    saved = tmp_path / "preprocessor_config.json"
    saved.write_text(json.dumps({"mean": -4.27, "std": 4.57, "sampling_rate": 16000, "max_length": 1024}))
    asked = []
    monkeypatch.setattr(backbone_loading, "_cached_file", lambda repo, name, revision=None: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download",
                        lambda repo, name, revision=None: asked.append((repo, name, revision)) or str(saved))
    spec = backbone_loading.BACKBONES["ast"]
    info = backbone_loading._hub_preprocessor("MIT/ast", spec, 1.0, reachable=True, revision="abc123")
    assert info == {"mean": -4.27, "std": 4.57, "sampling_rate": 16000}
    assert asked == [("MIT/ast", saved.name, "abc123")]  # a pinned revision's file, not the newest
    # the hub away (HF_HUB_OFFLINE in the tests): nothing is fetched, and the caller's error explains what to do
    assert backbone_loading._hub_preprocessor("MIT/ast", spec, 1.0) == {} and len(asked) == 1


def test_features_from_another_data_run_are_refused_at_evaluation(real_data, ast_features, tiny_params):
    mel, labels, splits = real_data
    tiny_params["optimisation"]["epochs"] = 1
    ast, _ = arm_fitting.train_arm(ast_features, labels, splits, AST_ARM, tiny_params, 42, "cpu", "ast")
    older = ast_features.subset(ast_features.ids[:-2])  # e.g. a version made before two songs were added
    with pytest.raises(ValueError, match="were not made with mel_spectrograms .* in one data_processing run"):
        nodes.evaluate_test_set(mel, labels, splits, tiny_params, 0, "cpu", ast_features=older, ast=ast)
