"""ViT regression of (valence, arousal) from windows of log-mel spectrograms.

The model's `config` (saved as config.json by `PretrainedModelMixin`) is all inference needs:

- `backbone`: the `transformers.ViTConfig` as a dict; reloading builds the backbone from it with random
  weights and then loads the saved state dict, so reloading never touches the hub;
- `head`: input/hidden/output sizes, dropout, token pooling (`cls` or `mean`) and output activation
  (`tanh` bounds every prediction to [-1, 1], the documented range);
- `input`: how a dB window becomes pixels: `mode` (`resize` to the backbone's image size, the
  Kaggle reference recipe's way, or `native`: keep the n_mels x frames grid, patches `patch_stride` apart, overlapping
  when smaller than the patch as in AST), `normalisation` (`dataset`: (dB - mean) / (2 std) with the
  train songs' statistics, as AST does; `db_range`: the fixed [low, high] dB range to [0, 1] then the
  checkpoint's image mean/std), `window_frames` and `window_stride` (how songs are cut into windows);
- `extraction`: the `MelConfig` dict of the training spectrograms (inference recomputes them from audio);
- `checkpoint`, `targets`, `freeze_backbone`: provenance.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from music_emotion.config import from_section
from music_emotion.data import TARGETS
from music_emotion.models.backbone_loading import image_normalisation, load_backbone
from music_emotion.models.base import PretrainedModelMixin, check_family
from music_emotion.models.regression_head import (
    Activation,
    WindowedRegressor,
    bounded,
    parameter_counts,
    regression_head,
)

logger = logging.getLogger(__name__)

InputMode = Literal["resize", "native"]
INPUT_MODES = get_args(InputMode)


@dataclass(frozen=True)
class ViTModelParams:
    """`training.model`: every key is required here; the defaults live in conf/base."""

    checkpoint: str | None
    vit_config: dict[str, Any] | None
    hub_probe_timeout_s: float
    freeze_backbone: bool
    head_hidden_size: int
    head_dropout: float
    head_pooling: Literal["cls", "mean"]
    head_activation: Activation
    input_mode: InputMode
    patch_stride: int | None
    window_seconds: float
    window_stride_seconds: float
    normalisation: Literal["dataset", "db_range"]
    image_mean: list[float] | None
    image_std: list[float] | None
    db_range: list[float] | None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ViTModelParams:
        config = from_section(cls, params, "training.model", "conf/base/parameters_training.yml")
        if config.window_seconds <= 0 or config.window_stride_seconds <= 0:
            raise ValueError("training.model.window_seconds and window_stride_seconds must be positive")
        return config


class StridedViTEmbeddings(nn.Module):
    """Drop-in for transformers' `ViTEmbeddings`: patches `stride` apart (overlapping when stride < patch,
    as AST does), position embeddings interpolated to the actual patch grid.

    It holds the original module's parameters under the same names, so pretrained checkpoints and our
    saved state dicts load unchanged, and it works with any `ViTModel` that calls `self.embeddings(...)`.
    """

    def __init__(self, original: nn.Module, stride: int) -> None:
        super().__init__()
        self.cls_token = original.cls_token
        self.mask_token = getattr(original, "mask_token", None)
        self.patch_embeddings = original.patch_embeddings
        self.position_embeddings = original.position_embeddings
        self.dropout = original.dropout
        grid = [int(s) // int(p) for s, p in zip(_pair(original.patch_embeddings.image_size),
                                                   _pair(original.patch_embeddings.patch_size), strict=True)]
        self.grid = tuple(grid)
        self.stride = int(stride)

    def forward(self, pixel_values: torch.Tensor, bool_masked_pos: Any = None, interpolate_pos_encoding: Any = None):
        projection = self.patch_embeddings.projection
        x = F.conv2d(pixel_values.to(projection.weight.dtype), projection.weight, projection.bias, stride=self.stride)
        grid = tuple(x.shape[-2:])
        x = x.flatten(2).transpose(1, 2)
        positions = self.position_embeddings
        patch_positions = positions[:, 1:]
        if grid != self.grid:
            dim = positions.shape[-1]
            patch_positions = F.interpolate(
                patch_positions.reshape(1, *self.grid, dim).permute(0, 3, 1, 2), size=grid, mode="bicubic",
                align_corners=False,
            ).permute(0, 2, 3, 1).reshape(1, -1, dim)
        cls = (self.cls_token + positions[:, :1]).expand(x.shape[0], -1, -1)
        return self.dropout(torch.cat([cls, x + patch_positions], dim=1))


class ViTForEmotionRegression(WindowedRegressor, PretrainedModelMixin, nn.Module):
    """`ViTModel` backbone (strided patch embeddings) -> pooled tokens -> MLP head -> (valence, arousal)."""

    def __init__(self, config: dict[str, Any], backbone: nn.Module | None = None) -> None:
        super().__init__()
        from transformers import ViTConfig, ViTModel

        check_family(config, "vit", "vit")
        self.config = config
        head, spec = config["head"], config["input"]
        missing = [k for k in ("normalisation", "window_frames", "window_stride", "patch_stride") if k not in spec]
        if missing or "pooling" not in head:
            raise ValueError(
                f"this trained_model's config lacks input settings {missing or ['head.pooling']}: "
                "it was saved by an older "
                "version of the project; retrain it with `kedro run --pipelines training`"
            )
        if backbone is None:  # reload path: architecture from the stored config, weights loaded afterwards
            backbone = ViTModel(ViTConfig.from_dict(config["backbone"]), add_pooling_layer=False)
        hidden = int(backbone.config.hidden_size)
        if int(head["input_size"]) != hidden:
            raise ValueError(f"Regression head expects {head['input_size']} features "
                             f"but the ViT's hidden size is {hidden}")
        if spec["mode"] not in INPUT_MODES:
            raise ValueError(f"training.model.input_mode must be one of {INPUT_MODES}, got {spec['mode']!r}")
        backbone.embeddings = StridedViTEmbeddings(backbone.embeddings, spec["patch_stride"])
        self.backbone = backbone
        self.head = regression_head(hidden, head)
        if config.get("freeze_backbone"):
            self.backbone.requires_grad_(False)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, 3, h, w) prepared pixels -> (B, 2) predictions."""
        tokens = self.backbone(pixel_values=pixel_values).last_hidden_state
        pooled = tokens[:, 0] if self.config["head"]["pooling"] == "cls" else tokens[:, 1:].mean(dim=1)
        return bounded(self.head(pooled), self.config["head"]["activation"])

    def predict(self, windows_db: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, window_frames) dB windows (on the model's device) -> (B, 2)."""
        return self(prepare_vit_inputs(windows_db, self.config["input"]))


def prepare_vit_inputs(windows_db: torch.Tensor, spec: dict[str, Any]) -> torch.Tensor:
    """(B, H, W) dB -> (B, 3, h, w) pixels, batched on the tensor's device (see module docstring)."""
    if windows_db.ndim != 3:
        raise ValueError(f"expected (batch, n_mels, frames) spectrograms, got shape {tuple(windows_db.shape)}")
    x = windows_db.float().unsqueeze(1)
    if spec["mode"] == "resize":
        x = F.interpolate(x, size=tuple(spec["image_size"]), mode="bilinear", align_corners=False, antialias=True)
    else:
        x = _fit_to_patches(x, int(spec["patch_size"]), int(spec["patch_stride"]), fill=float(spec["pad_db"]))
    if spec["normalisation"] == "dataset":
        x = ((x - float(spec["db_mean"])) / (2.0 * float(spec["db_std"]))).expand(-1, 3, -1, -1)
        return x
    low, high = spec["db_range"]
    x = ((x - low) / (high - low)).clamp_(0.0, 1.0)
    mean = torch.tensor(spec["image_mean"], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(spec["image_std"], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std  # broadcasting (B, 1, h, w) against (1, 3, 1, 1) gives the 3 channels


def _fit_to_patches(x: torch.Tensor, patch: int, stride: int, fill: float) -> torch.Tensor:
    """Pad both axes (with `fill`, the dB floor) so that patches `stride` apart tile them exactly."""
    height, width = x.shape[-2:]
    pad_h, pad_w = (_padding(size, patch, stride) for size in (height, width))
    return F.pad(x, (0, pad_w, 0, pad_h), value=fill) if pad_h or pad_w else x


def _padding(size: int, patch: int, stride: int) -> int:
    if size <= patch:
        return patch - size
    return (-(size - patch)) % stride


def native_grid(n_mels: int, frames: int, patch: int, stride: int) -> tuple[int, int]:
    """Patch grid (rows, columns) that `native` mode gives an (n_mels, frames) window."""
    rows, cols = (1 + (size + _padding(size, patch, stride) - patch) // stride for size in (n_mels, frames))
    return rows, cols


def build_vit_regressor(
    params: ViTModelParams, extraction: dict[str, Any], normalisation: dict[str, Any], window: tuple[int, int]
) -> ViTForEmotionRegression:
    """Backbone (pretrained or random, see `backbone_loading`) + fresh head, with a self-sufficient config.

    `normalisation` holds `db_mean`/`db_std` (dataset) or `db_range` and `pad_db`; `window` is
    (window_frames, window_stride) in frames.
    """
    backbone, processor_info = load_backbone("vit", params.checkpoint, params.vit_config, params.hub_probe_timeout_s)
    backbone_config = backbone.config
    patch = _pair(backbone_config.patch_size)[0]
    stride = patch if params.input_mode == "resize" or params.patch_stride is None else int(params.patch_stride)
    if not 1 <= stride <= patch:
        raise ValueError(f"training.model.patch_stride must be in [1, patch size {patch}], got {stride}")
    if int(getattr(backbone_config, "num_channels", 3)) != 3:
        raise ValueError("training.model: the backbone must take 3-channel images (num_channels: 3)")
    config = {
        "family": "vit",
        "checkpoint": params.checkpoint,
        "backbone": backbone_config.to_dict(),
        "head": {
            "input_size": int(backbone_config.hidden_size),
            "hidden_size": params.head_hidden_size,
            "dropout": params.head_dropout,
            "pooling": params.head_pooling,
            "activation": params.head_activation,
            "n_outputs": len(TARGETS),
        },
        "targets": list(TARGETS),
        "freeze_backbone": params.freeze_backbone,
        "input": {
            "mode": params.input_mode,
            "image_size": list(_pair(backbone_config.image_size)),
            "patch_size": patch,
            "patch_stride": stride,
            "window_frames": int(window[0]),
            "window_stride": int(window[1]),
            "normalisation": params.normalisation,
            **normalisation,
            **image_normalisation(processor_info, params.image_mean, params.image_std),
        },
        "extraction": dict(extraction or {}),
    }
    model = ViTForEmotionRegression(config, backbone=backbone)
    counts = parameter_counts(model)
    tokens = (math.prod(native_grid(int(extraction.get("n_mels", patch)), int(window[0]), patch, stride))
              if params.input_mode == "native" else math.prod(_pair(backbone_config.image_size)) // patch**2)
    logger.info(
        "ViTForEmotionRegression: %s parameters, %s trainable (backbone %s, input %s, %d tokens per window)",
        f"{counts['total']:,}", f"{counts['trainable']:,}", params.checkpoint or "random init",
        params.input_mode, tokens,
    )
    return model


def _pair(size: Any) -> tuple[int, int]:
    if isinstance(size, (list, tuple)):
        return int(size[0]), int(size[1])
    return int(size), int(size)
