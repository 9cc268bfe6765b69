"""ViT regression of (valence, arousal) from log-mel spectrograms, plus the batched input preparation.

The model's `config` (saved as config.json by `PretrainedModelMixin`) is all inference needs:

- `backbone`: the `transformers.ViTConfig` as a dict; reloading builds the backbone from it with random
  weights and then loads the saved state dict, so reloading never touches the hub;
- `head`: input/hidden/output sizes and dropout (768 -> 256 -> 2 for ViT-B/16);
- `input`: how a dB spectrogram becomes pixels (`mode`, `image_size`, `patch_size`, `image_mean`,
  `image_std`, `db_range`);
- `extraction`: the `MelConfig` dict the training spectrograms were made with (for inference on new audio);
- `checkpoint`, `targets`, `freeze_backbone`: provenance.

Input preparation (`prepare_vit_inputs`), all batched tensor ops on the model's device:
`resize` to the backbone's image size (bilinear, antialiased) or `native` (keep n_mels x T: the time
axis is cropped to a multiple of the patch size, and both axes are padded with the dB floor up to one
patch if shorter; the frequency axis is padded to a multiple of the patch size; position embeddings are
interpolated) -> dB in `db_range` (default [-80, 0]) mapped to [0, 1] and clamped -> the same plane in
3 channels, each normalised with the checkpoint's image mean/std. (Resizing is linear, so resizing
before scaling gives the same pixels as after, with fewer values to scale.)
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from music_emotion.models.backbone_loading import image_normalisation, load_vit_backbone
from music_emotion.models.base import PretrainedModelMixin
from music_emotion.runtime import autocast

logger = logging.getLogger(__name__)

INPUT_MODES = ("resize", "native")
TARGETS = ("valence", "arousal")


class ViTForEmotionRegression(PretrainedModelMixin, nn.Module):
    """`ViTModel` backbone -> [CLS] token -> MLP head -> (valence, arousal)."""

    def __init__(self, config: dict[str, Any], backbone: nn.Module | None = None) -> None:
        super().__init__()
        from transformers import ViTConfig, ViTModel

        self.config = config
        backbone_config = ViTConfig.from_dict(config["backbone"])
        if backbone is None:  # reload path: architecture from the stored config, weights loaded afterwards
            backbone = ViTModel(backbone_config, add_pooling_layer=False)
        hidden = int(backbone.config.hidden_size)
        head = config["head"]
        if int(head["input_size"]) != hidden or int(backbone_config.hidden_size) != hidden:
            raise ValueError(
                f"Regression head expects {head['input_size']} features but the ViT backbone's hidden size is "
                f"{hidden}; leave vit_training.model.head_input_size null so it is read from the backbone config"
            )
        mode = config["input"]["mode"]
        if mode not in INPUT_MODES:
            raise ValueError(f"vit_training.model.input_mode must be one of {INPUT_MODES}, got {mode!r}")
        self.backbone = backbone
        self.head = nn.Sequential(
            nn.Dropout(head["dropout"]),
            nn.Linear(hidden, head["hidden_size"]),
            nn.GELU(),
            nn.Dropout(head["dropout"]),
            nn.Linear(head["hidden_size"], head["n_outputs"]),
        )
        if config.get("freeze_backbone"):
            self.backbone.requires_grad_(False)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, 3, h, w) normalised pixels -> (B, 2) predictions."""
        native = self.config["input"]["mode"] == "native"
        hidden = self.backbone(pixel_values=pixel_values, interpolate_pos_encoding=native).last_hidden_state
        return self.head(hidden[:, 0])

    def predict(self, spectrograms_db: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, n_frames) dB (on the model's device) -> (B, 2)."""
        return self(prepare_vit_inputs(spectrograms_db, self.config))


def prepare_vit_inputs(spectrograms_db: torch.Tensor, config: dict[str, Any]) -> torch.Tensor:
    """(B, H, W) dB spectrograms -> (B, 3, h, w) normalised pixels, batched on the tensor's device."""
    spec = config["input"]
    if spectrograms_db.ndim != 3:
        raise ValueError(f"expected (batch, n_mels, n_frames) spectrograms, got shape {tuple(spectrograms_db.shape)}")
    low, high = spec["db_range"]
    x = spectrograms_db.float().unsqueeze(1)
    # Resize first: it is linear, so scaling afterwards gives the same pixels with fewer values to scale.
    if spec["mode"] == "resize":
        x = F.interpolate(x, size=tuple(spec["image_size"]), mode="bilinear", align_corners=False, antialias=True)
    else:
        x = _fit_to_patches(x, int(spec["patch_size"]), fill=float(low))
    x = ((x - low) / (high - low)).clamp_(0.0, 1.0)
    mean = torch.tensor(spec["image_mean"], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(spec["image_std"], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std  # broadcasting (B, 1, h, w) against (1, 3, 1, 1) gives the 3 channels


def _fit_to_patches(x: torch.Tensor, patch: int, fill: float) -> torch.Tensor:
    """Crop time to a multiple of `patch`; pad (with `fill`, the dB floor) what is shorter than that."""
    height, width = x.shape[-2:]
    if width >= patch:
        x = x[..., : width - width % patch]
    pad_w = max(0, patch - x.shape[-1])
    pad_h = (-height) % patch
    if pad_w or pad_h:
        x = F.pad(x, (0, pad_w, 0, pad_h), value=fill)
    return x


def native_input_shape(n_mels: int, n_frames: int, patch: int) -> tuple[int, int]:
    """The (h, w) that `native` mode feeds the backbone for an (n_mels, n_frames) spectrogram."""
    width = n_frames - n_frames % patch if n_frames >= patch else patch
    return n_mels + (-n_mels) % patch, width


def build_vit_regressor(
    model_params: dict[str, Any],
    extraction: dict[str, Any] | None,
    db_range: tuple[float, float],
) -> ViTForEmotionRegression:
    """Backbone (pretrained or random, see `backbone_loading`) + fresh head, with a self-sufficient config."""
    backbone, processor_info = load_vit_backbone(
        model_params.get("checkpoint"),
        model_params.get("vit_config"),
        float(model_params.get("hub_probe_timeout_s", 3.0)),
    )
    backbone_config = backbone.config
    image_size = _pair(backbone_config.image_size)
    patch = backbone_config.patch_size
    patch = int(patch[0] if isinstance(patch, (list, tuple)) else patch)
    mode = model_params.get("input_mode", "resize")
    config = {
        "checkpoint": model_params.get("checkpoint"),
        "backbone": backbone_config.to_dict(),
        "head": {
            "input_size": int(model_params.get("head_input_size") or backbone_config.hidden_size),
            "hidden_size": int(model_params.get("head_hidden_size", 256)),
            "dropout": float(model_params.get("head_dropout", 0.1)),
            "n_outputs": len(TARGETS),
        },
        "targets": list(TARGETS),
        "freeze_backbone": bool(model_params.get("freeze_backbone", False)),
        "input": {
            "mode": mode,
            "image_size": list(image_size),
            "patch_size": patch,
            "db_range": [float(db_range[0]), float(db_range[1])],
            **image_normalisation(processor_info, model_params.get("image_mean"), model_params.get("image_std")),
        },
        "extraction": dict(extraction or {}),
    }
    model = ViTForEmotionRegression(config, backbone=backbone)
    counts = parameter_counts(model)
    logger.info(
        "ViTForEmotionRegression: %s parameters, %s trainable, %s frozen (backbone %s, input %s)",
        f"{counts['total']:,}", f"{counts['trainable']:,}", f"{counts['frozen']:,}",
        config["checkpoint"] or "random init", mode,
    )
    return model


def parameter_counts(model: nn.Module) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable, "frozen": total - trainable}


@torch.no_grad()
def predict_spectrograms(
    model: ViTForEmotionRegression,
    values: np.ndarray,
    rows: np.ndarray | None = None,
    batch_size: int = 64,
    device: torch.device | str | None = None,
    mixed_precision: bool = True,
) -> np.ndarray:
    """(n, 2) predictions for `values[rows]` (dB spectrograms, possibly memory-mapped), in `rows` order.

    Rows are read in sorted order, a batch at a time, so a memory map is never read whole.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device).eval()
    rows = np.arange(len(values)) if rows is None else np.asarray(rows, dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    out = np.empty((len(rows), len(TARGETS)), dtype=np.float32)
    for start in range(0, len(rows), batch_size):
        take = order[start : start + batch_size]
        batch = torch.from_numpy(np.asarray(values[rows[take]], dtype=np.float32)).to(device)
        with autocast(device, mixed_precision):
            pred = model.predict(batch)
        out[take] = pred.float().cpu().numpy()
    return out


def _pair(size: Any) -> tuple[int, int]:
    if isinstance(size, (list, tuple)):
        return int(size[0]), int(size[1])
    return int(size), int(size)
