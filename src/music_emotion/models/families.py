"""Which network an arm's `model:` builds: one table from family name to builder, so training, evaluation and
inference never spell out a family. Each builder reads its own parameter section (`training.model` for the
ViT, `training.ast` for the AST) and the feature set the arm trains on.
"""

from __future__ import annotations

import logging
from typing import Any

from torch import nn

from music_emotion.data.corpus import Part
from music_emotion.data.spectrograms import SpectrogramSet, db_range, db_statistics
from music_emotion.data.windows import frames_for_seconds
from music_emotion.models.ast_regression import ASTModelParams, build_ast_regressor
from music_emotion.models.vit_regression import ViTModelParams, build_vit_regressor

logger = logging.getLogger(__name__)


def build_regressor(family: str, params: dict[str, Any], features: SpectrogramSet, train: Part) -> nn.Module:
    """A fresh model of `family` (`vit` | `ast`) for `features`, from the `training` parameters."""
    builders = {"vit": _build_vit,
                "ast": lambda p, f, t: build_ast_regressor(ASTModelParams.from_params(p["ast"]), f, t)}
    if family not in builders:
        raise ValueError(f"no network family {family!r}; known: {sorted(builders)}")
    return builders[family](params, features, train)


def _build_vit(params: dict[str, Any], spectrograms: SpectrogramSet, train: Part) -> nn.Module:
    model_params = ViTModelParams.from_params(params["model"])
    extraction = spectrograms.extraction
    window = frames_for_seconds(model_params.window_seconds, extraction, "training.model.window_seconds")
    stride = frames_for_seconds(model_params.window_stride_seconds, extraction, "training.model.window_stride_seconds")
    return build_vit_regressor(model_params, extraction, input_normalisation(spectrograms, train, model_params),
                               (window, stride))


def input_normalisation(spectrograms: SpectrogramSet, train: Part, params: ViTModelParams) -> dict[str, Any]:
    """What the ViT stores to turn dB into its input: TRAIN songs' mean/std, or the dB range; + the pad value."""
    low, high, _ = db_range(spectrograms, train.rows, params.db_range, "training.model.db_range")
    if params.normalisation == "dataset":
        mean, std = db_statistics(spectrograms.values, train.rows, train.valid_frames)
        logger.info("Input normalisation from %d TRAIN songs: mean %.2f dB, std %.2f dB", len(train), mean, std)
        return {"db_mean": mean, "db_std": std, "db_range": [low, high], "pad_db": low}
    return {"db_range": [low, high], "pad_db": low}
