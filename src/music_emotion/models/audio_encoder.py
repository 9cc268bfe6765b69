"""A frozen pretrained music encoder: fixed-length audio windows in, one embedding per window out.

The `embedding` arms do what a researcher would do first (MARBLE's protocol, Music2Emo's features): a music
foundation model stays frozen, each song is the mean of its windows' embeddings, and a small probe maps that to
V/A. The encoder is CLAP's audio tower with its projection (`laion/larger_clap_music`), which `transformers`
loads natively, without remote code. Its input (sample rate, window length, mel settings) comes from its own
feature extractor, never from our extraction settings, so the checkpoint sees audio the way it was trained on.

`embed_songs` computes a corpus's embeddings once: songs are decoded a chunk at a time (`songs_per_chunk`) on the
project's engine at the encoder's sample rate and cut into its windows; only the (songs, windows, dim) embeddings
are kept, so memory does not grow with the corpus. A window without real audio (a short song) is not embedded: its
row stays zero and the song's `valid_frames` entry counts the windows that do.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from music_emotion.audio.decoding import ClipResult
from music_emotion.audio.engine import EngineParams, FileEngine
from music_emotion.audio.extraction import clip_result
from music_emotion.audio.file_tasks import extract_item
from music_emotion.audio.waveform import WaveformConfig
from music_emotion.config import from_section
from music_emotion.console import progress_bar
from music_emotion.data.embeddings import window_count
from music_emotion.models.backbone_loading import load_backbone
from music_emotion.models.base import update_with_weights
from music_emotion.models.runtime import torch_threads

logger = logging.getLogger(__name__)

KIND = "clap_embedding"


@dataclass(frozen=True)
class EncoderParams:
    """`data_processing.embeddings`: every key is required; the defaults live in conf/base."""

    checkpoint: str | None
    revision: str | None
    clap_config: dict[str, Any] | None
    feature_extractor: dict[str, Any] | None
    hub_probe_timeout_s: float
    batch_size: int
    songs_per_chunk: int

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> EncoderParams:
        config = from_section(cls, params, "data_processing.embeddings", "conf/base/parameters_data_processing.yml")
        if config.batch_size < 1 or config.songs_per_chunk < 1:
            raise ValueError("data_processing.embeddings: batch_size and songs_per_chunk must be >= 1")
        return config


class FrozenAudioEncoder:
    """CLAP's audio encoder in eval mode with its feature extractor; `embed` maps waveforms to embeddings."""

    def __init__(self, params: EncoderParams, seed: int) -> None:
        from transformers import ClapFeatureExtractor

        with torch.random.fork_rng(devices=[]):  # the run's own random state is left as it was
            torch.manual_seed(int(seed))  # a randomly initialised encoder (checkpoint: null) is the same for a seed
            self.model, preprocessor = load_backbone("embedding", params.checkpoint, params.clap_config,
                                                     params.hub_probe_timeout_s, params.revision)
        self.model.eval().requires_grad_(False)
        # Explicit settings win (a served model stores the ones its embeddings were made with); else the checkpoint's.
        self.extractor_settings = dict(params.feature_extractor if params.feature_extractor is not None
                                       else preprocessor)
        self.extractor = ClapFeatureExtractor(**self.extractor_settings)
        self.checkpoint = params.checkpoint
        # The hub commit the weights came from (transformers records it when loading from the hub or its cache).
        self.revision = ((params.revision or getattr(self.model.config, "_commit_hash", None))
                         if params.checkpoint else None)
        self.batch_size = params.batch_size

    @classmethod
    def from_description(cls, description: dict[str, Any], batch_size: int,
                         encoder_path: str | None = None) -> FrozenAudioEncoder:
        """The encoder `describe()` names: its checkpoint at its revision (or the local folder `encoder_path`),
        or its random architecture (whose weights the caller loads), with the feature extractor it used."""
        params = EncoderParams(
            checkpoint=encoder_path or description["checkpoint"],
            revision=None if encoder_path else description["revision"],
            clap_config=description["encoder"], feature_extractor=description["feature_extractor"],
            hub_probe_timeout_s=3.0, batch_size=batch_size, songs_per_chunk=1)
        return cls(params, seed=0)

    @property
    def sample_rate(self) -> int:
        return int(self.extractor.sampling_rate)

    @property
    def window_seconds(self) -> float:
        return float(self.extractor.max_length_s)

    @property
    def dim(self) -> int:
        return int(self.model.config.projection_dim)

    def describe(self) -> dict[str, Any]:
        """What the embeddings are: stored with them, so a change of encoder makes another feature set, and enough
        to rebuild the encoder for serving (a random one by architecture + a hash of its weights)."""
        random = self.checkpoint is None
        return {"kind": KIND, "checkpoint": self.checkpoint, "revision": self.revision,
                "sample_rate": self.sample_rate, "window_seconds": self.window_seconds, "dim": self.dim,
                "feature_extractor": self.extractor_settings,
                "encoder": self.model.config.to_dict() if random else None,
                "weights": weights_hash(self.model) if random else None}

    @torch.no_grad()
    def embed(self, windows: list[np.ndarray]) -> np.ndarray:
        """(n, dim) float32 embeddings of `windows` (mono float32 at `sample_rate`, at most `window_seconds`
        long; shorter ones are padded by the extractor's own rule), in batches of `batch_size`, on the device the
        encoder sits on."""
        device = next(self.model.parameters()).device
        out = np.empty((len(windows), self.dim), dtype=np.float32)
        for start in range(0, len(windows), self.batch_size):
            batch = windows[start : start + self.batch_size]
            inputs = self.extractor(batch, sampling_rate=self.sample_rate, return_tensors="pt")
            features = {k: v.to(device) for k, v in inputs.items() if k in ("input_features", "is_longer")}
            out[start : start + len(batch)] = self.model(**features).audio_embeds.float().cpu().numpy()
        return out


def weights_hash(model: torch.nn.Module) -> str:
    """A hash of a module's weights: tells a rebuilt random encoder from another one with the same architecture."""
    digest = hashlib.sha256()
    update_with_weights(digest, model)
    return digest.hexdigest()[:16]


def embed_songs(items: Sequence[tuple[str, str]], encoder: FrozenAudioEncoder, duration: float, offset: float,
                resample_type: str, songs_per_chunk: int,
                engine: EngineParams) -> tuple[np.ndarray, np.ndarray, list[ClipResult]]:
    """(embeddings (n_kept, n_windows, dim) float32, real windows per kept song, one ClipResult per item).

    One engine for the whole corpus (`auto` decides on all of its audio, not a chunk's): the engine decodes the
    next chunk while this one is embedded."""
    n_windows = window_count(duration, encoder.window_seconds)
    config = WaveformConfig(encoder.sample_rate, n_windows * encoder.window_seconds, offset, resample_type)
    per_window = int(round(encoder.window_seconds * encoder.sample_rate))
    values = np.zeros((len(items), n_windows, encoder.dim), dtype=np.float32)
    valid = np.zeros(len(items), dtype=np.int64)
    results: list[ClipResult] = []
    kept = 0
    chunks = [list(items[start : start + songs_per_chunk]) for start in range(0, len(items), songs_per_chunk)]
    progress = progress_bar(total=len(items), desc="embeddings", unit="song")
    with FileEngine(engine, len(items), config.duration) as running, torch_threads(running.client_threads):
        for chunk, decoded in zip(chunks, running.map_batches(extract_item, chunks, config), strict=True):
            windows, owners = [], []
            for (key, _), outcome in zip(chunk, decoded, strict=True):
                result = clip_result(key, outcome)
                if result.spectrogram is not None:
                    real = config.frames_for(result.audio_seconds)
                    valid[kept] = min(n_windows, max(1, math.ceil(real / per_window)))
                    for w in range(valid[kept]):
                        windows.append(result.spectrogram[0, w * per_window : min(real, (w + 1) * per_window)])
                        owners.append((kept, w))
                    result.spectrogram = None
                    kept += 1
                results.append(result)
            for (song, w), vector in zip(owners, encoder.embed(windows), strict=True):
                values[song, w] = vector
            progress.update(len(chunk))
    progress.close()
    return values[:kept], valid[:kept], results
