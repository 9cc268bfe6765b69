"""An embedding arm as one servable model: the frozen encoder named by hub id and revision, and the probe's numbers.

The pipeline fits the probe on cached embeddings (`study.probe`); to predict a user's audio the encoder has to run
again, on the same windows, with the same feature extractor. `EmbeddingProbeRegressor` is that pair behind the
interface every served model has (`WindowedRegressor`: `config["extraction"]` says how a file is decoded — here
the waveform at the encoder's rate — and `predict` maps windows to V/A), so the inference pipeline,
`EmotionModel`, `music-emotion predict/export/app` and the page serve it through their one prediction loop.

What is saved (`save_pretrained`): config.json naming the encoder (checkpoint, revision, its feature extractor's
settings) and model.safetensors holding the probe (standardisation + the ridge's or the MLP's weights). A hub
encoder's weights are never copied: they are loaded from the Hugging Face cache, the hub, or a local folder given
as `encoder_path` (offline), and only when the first window is predicted, so scoring cached embeddings never needs
them. A randomly initialised encoder (demo, tests) has no hub id: its weights travel in the same safetensors file.
Embeddings are rounded to the dtype the probe was fitted on (the catalog stores them as float16).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from music_emotion.data.embeddings import window_count
from music_emotion.models.audio_encoder import FrozenAudioEncoder
from music_emotion.models.base import PretrainedModelMixin
from music_emotion.models.probe_readout import readout_keys, window_predictions
from music_emotion.models.regression_head import WindowedRegressor

FAMILY = "embedding"


class EmbeddingProbeRegressor(PretrainedModelMixin, WindowedRegressor, nn.Module):
    """A frozen music encoder + the probe (ridge or MLP) fitted on its embeddings; `predict` takes waveform windows."""

    def __init__(self, config: dict[str, Any], encoder_path: str | None = None) -> None:
        nn.Module.__init__(self)
        if config.get("family") != FAMILY:
            raise ValueError(f"this model config is for the '{config.get('family', 'vit')}' family, not "
                             f"'{FAMILY}': load it with music_emotion.models.base.load_pretrained_model")
        self.config = config
        dim, kind = int(config["encoder"]["dim"]), config["probe"]["kind"]
        hidden = int(config["probe"]["hidden_size"] or 0)
        shapes = {"scaler_mean": (dim,), "scaler_scale": (dim,), "hidden_weight": (hidden, dim),
                  "hidden_bias": (hidden,), "coef": (2, hidden if kind == "mlp" else dim), "intercept": (2,)}
        self.readout_names = readout_keys(kind)
        for name in self.readout_names:
            self.register_buffer(name, torch.zeros(shapes[name], dtype=torch.float64))
        self.encoder_path = encoder_path
        self.frozen: FrozenAudioEncoder | None = None
        if config["encoder"]["checkpoint"] is None:  # random weights: saved with the probe, loaded into this module
            self.frozen = self._build_encoder()
            self.encoder = self.frozen.model

    @property
    def description(self) -> str:
        encoder = self.config["encoder"]
        named = encoder["checkpoint"] or "a randomly initialised encoder"
        revision = f" @ {encoder['revision'][:12]}" if encoder["revision"] else ""
        probe = self.config["probe"]
        return f"{probe['kind']} probe (alpha {probe['alpha']:g}) on CLAP embeddings of {named}{revision}"

    def readout(self) -> dict[str, np.ndarray]:
        """The probe's numbers, as `models.probe_readout` applies them."""
        return {name: getattr(self, name).detach().cpu().numpy() for name in self.readout_names}

    def set_readout(self, readout: dict[str, Any]) -> None:
        for name in self.readout_names:
            buffer = getattr(self, name)
            buffer.copy_(torch.as_tensor(np.asarray(readout[name], dtype=np.float64)).reshape(buffer.shape))

    @torch.no_grad()
    def predict(self, windows: torch.Tensor) -> torch.Tensor:
        """(B, 1, samples) waveform windows at the encoder's rate -> (B, 2) valence/arousal, float32."""
        encoder = self.running_encoder(windows.device)
        with torch.autocast(windows.device.type, enabled=False):  # the embeddings are the pipeline's, in float32
            embeddings = encoder.embed([w.reshape(-1).float().cpu().numpy() for w in windows])
        stored = embeddings.astype(self.config["embedding_dtype"])
        return torch.from_numpy(window_predictions(self.readout(), stored)).to(windows.device)

    def running_encoder(self, device: torch.device) -> FrozenAudioEncoder:
        """The encoder on `device`, loaded on first use when it comes from a checkpoint (cache, hub or
        `encoder_path`); a missing one fails with the `hf download` line, as for training."""
        if self.frozen is None:
            self.frozen = self._build_encoder()
        self.frozen.model.to(device)
        return self.frozen

    def _build_encoder(self) -> FrozenAudioEncoder:
        return FrozenAudioEncoder.from_description(self.config["encoder"], int(self.config["encoder"]["batch_size"]),
                                                   self.encoder_path)


def probe_model_config(probe: dict[str, Any], embeddings: dict[str, Any], embedding_dtype: str,
                       batch_size: int) -> dict[str, Any]:
    """The served model's config from the fitted probe and the description stored with the cached embeddings."""
    window = int(round(float(embeddings["window_seconds"]) * int(embeddings["sample_rate"])))
    n_windows = window_count(float(embeddings["duration"]), float(embeddings["window_seconds"]))
    return {
        "family": FAMILY, "checkpoint": embeddings["checkpoint"],
        "encoder": {**{key: embeddings[key] for key in ("checkpoint", "revision", "sample_rate", "window_seconds",
                                                        "dim", "feature_extractor", "encoder", "weights")},
                    "batch_size": int(batch_size)},
        "probe": {"kind": probe["probe"], "alpha": float(probe["alpha"]), "hidden_size": probe["hidden_size"],
                  "n_train_songs": int(probe["n_train_songs"])},
        "embedding_dtype": embedding_dtype,
        # a file is decoded as the pipeline decoded a song: spans of whole encoder windows at the encoder's rate
        "extraction": {"kind": "waveform", "sample_rate": int(embeddings["sample_rate"]),
                       "duration": n_windows * float(embeddings["window_seconds"]),
                       "offset": float(embeddings["offset"]), "resample_type": str(embeddings["resample_type"])},
        "input": {"window_frames": window, "window_stride": window},
    }
