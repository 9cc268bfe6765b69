"""Audio Spectrogram Transformer regression of (valence, arousal) from windows of Kaldi filter banks.

The AST (Gong et al. 2021; transformers' `ASTModel`) was pretrained on AudioSet with 16 kHz Kaldi fbank input of
`max_length` frames (1,024 = 10.24 s for `MIT/ast-finetuned-audioset-10-10-0.4593`). Its position embeddings
fix that length, so a window is exactly `max_length` frames; songs are cut into such windows and averaged as
for the ViT. The base `ASTModel` (no classifier) feeds our own MSE-trained head: `ASTForAudioClassification`
with float labels would silently train a multi-label BCE loss instead.

`config` is all inference needs (`PretrainedModelMixin`): `family: ast`, the `ASTConfig` as a dict, the head,
`input` (window frames/stride, the feature mean/std and where they came from) and `extraction` (the
`FbankConfig` of the features it was trained on).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from music_emotion.audio.fbank import KIND as FBANK_KIND
from music_emotion.config import from_section
from music_emotion.data import TARGETS
from music_emotion.data.corpus import Part
from music_emotion.data.spectrograms import SpectrogramSet, db_statistics
from music_emotion.data.windows import frames_for_seconds
from music_emotion.models.backbone_loading import load_backbone
from music_emotion.models.base import PretrainedModelMixin, check_family
from music_emotion.models.regression_head import (
    Activation,
    WindowedRegressor,
    bounded,
    parameter_counts,
    regression_head,
)

logger = logging.getLogger(__name__)

BACKBONE_TYPE = "audio-spectrogram-transformer"


@dataclass(frozen=True)
class ASTModelParams:
    """`training.ast`: every key is required here; the defaults live in conf/base."""

    checkpoint: str | None
    ast_config: dict[str, Any] | None
    hub_probe_timeout_s: float
    freeze_backbone: bool
    head_hidden_size: int
    head_dropout: float
    head_activation: Activation
    window_stride_seconds: float
    normalisation: Literal["checkpoint", "dataset"]

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ASTModelParams:
        config = from_section(cls, params, "training.ast", "conf/base/parameters_training.yml")
        if config.window_stride_seconds <= 0:
            raise ValueError("training.ast.window_stride_seconds must be positive")
        return config


class ASTForEmotionRegression(WindowedRegressor, PretrainedModelMixin, nn.Module):
    """`ASTModel` -> its pooled (CLS + distillation) token -> MLP head -> (valence, arousal)."""

    def __init__(self, config: dict[str, Any], backbone: nn.Module | None = None) -> None:
        super().__init__()
        from transformers import ASTConfig, ASTModel

        check_family(config, "ast", BACKBONE_TYPE)
        self.config = config
        if backbone is None:  # reload path: architecture from the stored config, weights loaded afterwards
            backbone = ASTModel(ASTConfig.from_dict(config["backbone"]))
        hidden = int(backbone.config.hidden_size)
        if int(config["head"]["input_size"]) != hidden:
            raise ValueError(f"Regression head expects {config['head']['input_size']} features but the AST's hidden "
                             f"size is {hidden}")
        self.backbone = backbone
        self.head = regression_head(hidden, config["head"])
        if config.get("freeze_backbone"):
            self.backbone.requires_grad_(False)

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        """(B, max_length, num_mel_bins) normalised features -> (B, 2) predictions."""
        pooled = self.backbone(input_values=input_values).pooler_output
        return bounded(self.head(pooled), self.config["head"]["activation"])

    def predict(self, windows: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, window_frames) raw log fbank windows (on the model's device) -> (B, 2)."""
        if windows.ndim != 3:
            raise ValueError(f"expected (batch, n_mels, frames) features, got shape {tuple(windows.shape)}")
        spec = self.config["input"]
        x = (windows.float() - float(spec["feature_mean"])) / (2.0 * float(spec["feature_std"]))
        return self(x.transpose(1, 2))


def build_ast_regressor(params: ASTModelParams, features: SpectrogramSet, train: Part) -> ASTForEmotionRegression:
    """Backbone (pretrained or random) + fresh head, checked against the features it will be trained on."""
    extraction = dict(features.extraction)
    if extraction.get("kind") != FBANK_KIND:
        raise ValueError(f"an AST arm needs ast_features ({FBANK_KIND}); "
                         f"got features of kind {extraction.get('kind')!r}")
    backbone, preprocessor = load_backbone("ast", params.checkpoint, params.ast_config, params.hub_probe_timeout_s)
    backbone_config = backbone.config
    check_features_match(backbone_config, preprocessor, extraction, random_init=params.checkpoint is None)
    window = int(backbone_config.max_length)
    stride = frames_for_seconds(params.window_stride_seconds, extraction, "training.ast.window_stride_seconds")
    config = {
        "family": "ast",
        "checkpoint": params.checkpoint,
        "backbone": backbone_config.to_dict(),
        "head": {"input_size": int(backbone_config.hidden_size), "hidden_size": params.head_hidden_size,
                 "dropout": params.head_dropout, "activation": params.head_activation, "n_outputs": len(TARGETS)},
        "targets": list(TARGETS),
        "freeze_backbone": params.freeze_backbone,
        "input": {"window_frames": window, "window_stride": stride,
                  **feature_normalisation(params.normalisation, preprocessor, features, train,
                                          random_init=params.checkpoint is None)},
        "extraction": extraction,
    }
    model = ASTForEmotionRegression(config, backbone=backbone)
    counts = parameter_counts(model)
    logger.info("ASTForEmotionRegression: %s parameters, %s trainable (backbone %s, %d-frame windows every %d frames)",
                f"{counts['total']:,}", f"{counts['trainable']:,}", params.checkpoint or "random init", window, stride)
    return model


def check_features_match(backbone_config: Any, preprocessor: dict[str, Any], extraction: dict[str, Any],
                         random_init: bool) -> None:
    """The stored features must be what the checkpoint was trained on (mel bins, sampling rate)."""
    problems = []
    if int(backbone_config.num_mel_bins) != int(extraction["n_mels"]):
        problems.append(f"the AST takes {backbone_config.num_mel_bins} mel bins, "
                        f"ast_features have {extraction['n_mels']}")
    if "sampling_rate" in preprocessor and int(preprocessor["sampling_rate"]) != int(extraction["sample_rate"]):
        problems.append(f"the checkpoint expects {preprocessor['sampling_rate']} Hz audio, ast_features are at "
                        f"{extraction['sample_rate']} Hz")
    if problems:
        fix = ("set training.ast.ast_config.num_mel_bins to the features' n_mels, or data_processing.ast_features."
               "n_mels to the AST's" if random_init
               else "set data_processing.ast_features to the checkpoint's settings")
        raise ValueError("; ".join(problems) + f". Fix: {fix}, and re-run data_processing.")


def feature_normalisation(how: str, preprocessor: dict[str, Any], features: SpectrogramSet, train: Part,
                          random_init: bool) -> dict:
    """(fbank - mean) / (2 std): the checkpoint's own mean/std (AudioSet's for the MIT checkpoints), or the TRAIN
    songs' statistics for a randomly initialised AST (which has no preprocessor)."""
    if how == "checkpoint":
        if preprocessor.get("do_normalize") is False:  # the checkpoint was trained on raw fbank: x / (2 * 0.5) = x
            return {"feature_mean": 0.0, "feature_std": 0.5, "normalisation": "checkpoint (do_normalize: false)"}
        if "mean" not in preprocessor or "std" not in preprocessor:
            why = ("a random-init AST (checkpoint: null) has no preprocessor" if random_init
                   else "the checkpoint's preprocessor_config.json with mean/std is not available (not in its "
                   "directory or the Hugging Face cache, and the hub did not answer); `hf download <checkpoint> "
                   "--local-dir DIR` fetches it with the weights")
            raise ValueError(f"training.ast.normalisation is 'checkpoint' but {why}. Or set "
                             "training.ast.normalisation: dataset (the TRAIN songs' statistics).")
        return {"feature_mean": float(preprocessor["mean"]), "feature_std": float(preprocessor["std"]),
                "normalisation": "checkpoint"}
    mean, std = db_statistics(features.values, train.rows, train.valid_frames)
    logger.info("AST input normalisation from %d TRAIN songs: mean %.3f, std %.3f", len(train), mean, std)
    return {"feature_mean": mean, "feature_std": std, "normalisation": "dataset"}
