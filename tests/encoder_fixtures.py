"""A tiny CLAP audio encoder (random weights) written with `save_pretrained`, as `hf download` would leave one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TINY_CLAP = {"spec_size": 64, "num_mel_bins": 16, "window_size": 4, "patch_size": 4, "patch_stride": [4, 4],
             "patch_embeds_hidden_size": 8, "hidden_size": 16, "depths": [1, 1], "num_attention_heads": [2, 2],
             "projection_dim": 8, "projection_hidden_size": 16, "enable_fusion": False}
TINY_EXTRACTOR = {"feature_size": 16, "sampling_rate": 8000, "hop_length": 80, "fft_window_size": 256,
                  "max_length_s": 1, "frequency_min": 50, "frequency_max": 4000, "truncation": "rand_trunc",
                  "padding": "repeatpad"}


def save_tiny_clap(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import ClapAudioConfig, ClapAudioModelWithProjection, ClapFeatureExtractor

    torch.manual_seed(seed)
    ClapAudioModelWithProjection(ClapAudioConfig(**TINY_CLAP)).save_pretrained(folder)
    ClapFeatureExtractor(**TINY_EXTRACTOR).save_pretrained(folder)
    return folder


def encoder_params(checkpoint: str | None, **overrides: Any) -> dict[str, Any]:
    """conf/base's data_processing.embeddings with `checkpoint` (a folder, a hub id, or None = random TINY_CLAP)."""
    from tests.conf_params import parameters

    tiny = {"clap_config": TINY_CLAP, "feature_extractor": TINY_EXTRACTOR} if checkpoint is None else {}
    return parameters("data_processing.embeddings", checkpoint=checkpoint, **tiny, **overrides)
