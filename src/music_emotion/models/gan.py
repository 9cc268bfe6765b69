"""Conditional GAN for log-mel spectrograms, conditioned on (valence, arousal).

Both networks are config-driven (`PretrainedModelMixin`): the shapes come from the data, never
from constants, so the same code runs at 1 x 128 x 1292 (default), 1 x 64 x 431 (demo) or
1 x 16 x 64 (tests). The generator's config also holds the dB <-> [-1, 1] scaling it was
trained with, so a generator loaded from the catalog can `generate(...)` dB spectrograms
without any training code::

    generator = catalog.load("generator")
    db = generator.generate([[0.5, -0.2], [-0.8, 0.9]], generator=torch.Generator().manual_seed(0))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from music_emotion.models.base import PretrainedModelMixin
from music_emotion.models.db_scaling import DbScalingMixin, checked_conditions


def _require(config: dict[str, Any], keys: Sequence[str], owner: str) -> None:
    missing = [k for k in keys if config.get(k) is None]
    if missing:
        raise ValueError(f"{owner} config is missing {missing} (from the data and gan_augmentation.generator)")


def _condition_maps(conditions: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(B, c) -> (B, c, H, W): each condition value as a constant image channel."""
    return conditions[:, :, None, None].expand(-1, -1, height, width)


CONDITIONINGS = ("channels", "film")


class LabelEmbedding(nn.Module):
    """(B, 2) V/A -> (B, dim): Fourier features of the label (sin/cos at octave frequencies) through a small MLP.

    A continuous label seen at ~90 points needs an embedding that varies smoothly between them; the raw two numbers
    as constant channels leave every block to learn that on its own (CcGAN's label embedding serves the same end)."""

    def __init__(self, condition_dim: int, dim: int, n_frequencies: int = 4) -> None:
        super().__init__()
        self.register_buffer("frequencies", torch.pi * 2.0 ** torch.arange(n_frequencies, dtype=torch.float32),
                             persistent=False)
        width = condition_dim * (1 + 2 * n_frequencies)
        self.mlp = nn.Sequential(nn.Linear(width, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, conditions: torch.Tensor) -> torch.Tensor:
        angles = conditions[:, :, None] * self.frequencies.to(conditions.dtype)
        return self.mlp(torch.cat([conditions, angles.sin().flatten(1), angles.cos().flatten(1)], dim=1))


class FilmUpBlock(nn.Module):
    """Transposed conv x2, GroupNorm without its own affine, then a scale and shift computed from the label
    embedding (conditional normalisation, as BigGAN's conditional batch norm): the label steers every block's
    features instead of being one more input channel. The FiLM layer starts at zero: identity at initialisation."""

    def __init__(self, c_in: int, c_out: int, embedding_dim: int) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1)
        self.norm = nn.GroupNorm(min(8, c_out), c_out, affine=False)
        self.film = nn.Linear(embedding_dim, 2 * c_out)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(embedding).to(x.dtype)[:, :, None, None].chunk(2, dim=1)
        return torch.relu(self.norm(self.conv(x)) * (1 + scale) + shift)


class SpectrogramGenerator(DbScalingMixin, PretrainedModelMixin, nn.Module):
    """(noise, condition) -> spectrogram in [-1, 1] of exactly (channels, n_mels, n_frames).

    A linear layer projects [noise, condition] to a (C, h0, w0) map with h0 = ceil(n_mels / 2^k),
    w0 = ceil(n_frames / 2^k); k transposed-convolution blocks double both sides; the result is cropped to the
    exact shape (1292 is not a power of two) and squashed by tanh. `conditioning` says how the label reaches the
    blocks: `channels` re-injects V/A as constant channels before each block (the reference design); `film`
    projects [noise, label embedding] and scales/shifts every block's normalised features from the embedding.

    Config keys: n_mels, n_frames (required), channels, latent_dim, condition_dim,
    base_channels, n_upsample, min_channels, conditioning, embedding_dim, db_min, db_max (the dB range that maps
    to [-1, 1]), plus anything JSON-able the pipeline wants to keep with the weights (e.g. `extraction`).
    """

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = dict(config)
        cfg = self.config
        _require(cfg, ("n_mels", "n_frames", "channels", "latent_dim", "condition_dim", "base_channels", "n_upsample",
                       "min_channels"), "SpectrogramGenerator")
        self.height, self.width = int(cfg["n_mels"]), int(cfg["n_frames"])
        self.latent_dim = int(cfg["latent_dim"])
        self.condition_dim = int(cfg["condition_dim"])
        n_up = int(cfg["n_upsample"])
        if n_up < 1:
            raise ValueError(f"SpectrogramGenerator n_upsample must be >= 1, got {n_up}")
        if 2**n_up > 4 * max(self.height, self.width):
            raise ValueError(
                f"n_upsample={n_up} is too many for a {self.height} x {self.width} spectrogram; lower it"
            )
        scale = 2**n_up
        self.h0 = -(-self.height // scale)
        self.w0 = -(-self.width // scale)
        widths = [max(int(cfg["min_channels"]), int(cfg["base_channels"]) // 2**i) for i in range(n_up)]
        self.c0 = widths[0]
        # generators saved before `conditioning` existed have no key: they are `channels` generators
        self.conditioning = cfg.get("conditioning", "channels")
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"gan_augmentation.generator.conditioning must be one of {CONDITIONINGS}, "
                             f"got {self.conditioning!r}")
        if self.conditioning == "film":
            embedding_dim = int(cfg["embedding_dim"])
            self.embedding = LabelEmbedding(self.condition_dim, embedding_dim)
            self.project = nn.Linear(self.latent_dim + embedding_dim, self.c0 * self.h0 * self.w0)
            self.blocks = nn.ModuleList(FilmUpBlock(widths[i], widths[i + 1], embedding_dim) for i in range(n_up - 1))
            self.last = nn.ConvTranspose2d(widths[-1], int(cfg["channels"]), kernel_size=4, stride=2, padding=1)
            return
        self.project = nn.Linear(self.latent_dim + self.condition_dim, self.c0 * self.h0 * self.w0)
        blocks = []
        for i in range(n_up):
            c_in = widths[i] + self.condition_dim
            last = i == n_up - 1
            c_out = int(cfg["channels"]) if last else widths[i + 1]
            layers: list[nn.Module] = [nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1)]
            if not last:
                # GroupNorm, not BatchNorm: a sample never depends on its batch-mates, so generation is
                # the same in train and eval mode and for any generation batch size.
                layers += [nn.GroupNorm(min(8, c_out), c_out), nn.ReLU(inplace=True)]
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, noise: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        conditions = conditions.to(noise.dtype)
        if self.conditioning == "film":
            embedding = self.embedding(conditions)
            x = torch.relu(self.project(torch.cat([noise, embedding], dim=1)).view(-1, self.c0, self.h0, self.w0))
            for block in self.blocks:
                x = block(x, embedding)
            return torch.tanh(self.last(x)[:, :, : self.height, : self.width])
        x = self.project(torch.cat([noise, conditions], dim=1))
        x = torch.relu(x.view(-1, self.c0, self.h0, self.w0))
        for block in self.blocks:
            x = block(torch.cat([x, _condition_maps(conditions, x.shape[2], x.shape[3]).to(x.dtype)], dim=1))
        return torch.tanh(x[:, :, : self.height, : self.width])

    SOURCE = "gan"  # names its samples (`gan-000001`) and their `source` in the synthetic set's metadata

    def sample_into(self, conditions: np.ndarray, out: np.ndarray, seed: int, batch_size: int) -> None:
        """Fill `out` with samples for `conditions`, the noise drawn from `seed` (the same whatever the batch)."""
        noise = torch.randn(len(conditions), self.latent_dim, generator=torch.Generator().manual_seed(seed))
        self.generate(conditions, noise=noise, batch_size=batch_size, out=out)

    @torch.no_grad()
    def generate(
        self,
        conditions: np.ndarray | Sequence[Sequence[float]] | torch.Tensor,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
        batch_size: int = 64,
        device: str | torch.device | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """dB spectrograms (n, n_mels, n_frames) float32 for `conditions` (n, 2) = (valence, arousal).

        Noise is drawn on the CPU from `generator` (all of it up front), so a seed gives the same
        samples whatever the batch size or device. `out` (preallocated float32) is filled in place.
        """
        conditions = checked_conditions(conditions, self.condition_dim)
        n = conditions.shape[0]
        if noise is None:
            noise = torch.randn(n, self.latent_dim, generator=generator)
        if out is None:
            out = np.empty((n, self.height, self.width), dtype=np.float32)
        if out.shape != (n, self.height, self.width):
            raise ValueError(f"out has shape {out.shape}, expected {(n, self.height, self.width)}")
        device = torch.device(device) if device is not None else next(self.parameters()).device
        was_training = self.training
        self.eval()
        try:
            for start in range(0, n, batch_size):
                stop = min(n, start + batch_size)
                unit = self(noise[start:stop].to(device), conditions[start:stop].to(device))
                out[start:stop] = self.to_db(unit.float())[:, 0].cpu().numpy()
        finally:
            self.train(was_training)
        return out


class SpectrogramDiscriminator(PretrainedModelMixin, nn.Module):
    """(spectrogram in [-1, 1], condition) -> (real/fake logit, predicted (valence, arousal) or None).

    Strided 4x4 convolutions + LeakyReLU + Dropout, global average pooling, then:
    - a linear real/fake head, plus the projection term <embed(condition), features> (projection
      discriminator, Miyato & Koyama 2018) when `projection`;
    - the condition as constant input channels when `condition_channels` (the Kaggle reference recipe's way);
    - an auxiliary V/A regression head when `aux_regression` (AC-GAN, Odena et al. 2017, for continuous
      labels): it must not see the condition, so it cannot be combined with `condition_channels`;
    - spectral normalisation of every weight when `spectral_norm` (Miyato et al. 2018).
    Config keys: channels, condition_dim, base_channels, n_layers, max_channels, dropout, condition_channels,
    projection, aux_regression, spectral_norm (+ n_mels, n_frames, recorded; the network accepts any size).
    """

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = dict(config)
        cfg = self.config
        self.condition_dim = int(cfg["condition_dim"])
        n_layers = int(cfg["n_layers"])
        if n_layers < 1:
            raise ValueError(f"SpectrogramDiscriminator n_layers must be >= 1, got {n_layers}")
        if cfg["aux_regression"] and cfg["condition_channels"]:
            raise ValueError(
                "gan_augmentation.discriminator: aux_regression needs condition_channels: false (a head that sees the "
                "condition as input would just copy it, and the generator would learn nothing from it)"
            )
        norm = nn.utils.parametrizations.spectral_norm if cfg["spectral_norm"] else (lambda module: module)
        layers: list[nn.Module] = []
        c_in = int(cfg["channels"]) + (self.condition_dim if cfg["condition_channels"] else 0)
        for i in range(n_layers):
            c_out = min(int(cfg["max_channels"]), int(cfg["base_channels"]) * 2**i)
            layers += [
                norm(nn.Conv2d(c_in, c_out, kernel_size=4, stride=2, padding=1)),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Dropout2d(float(cfg["dropout"])) if i < n_layers - 1 else nn.Dropout(float(cfg["dropout"])),
            ]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = norm(nn.Linear(c_in, 1))
        self.embed = norm(nn.Linear(self.condition_dim, c_in, bias=False)) if cfg["projection"] else None
        self.aux = nn.Linear(c_in, self.condition_dim) if cfg["aux_regression"] else None

    def forward(self, spectrograms: torch.Tensor, conditions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        conditions = conditions.to(spectrograms.dtype)
        x = spectrograms
        if self.config["condition_channels"]:
            x = torch.cat([x, _condition_maps(conditions, x.shape[2], x.shape[3])], dim=1)
        h = self.features(x).mean(dim=(2, 3))
        logit = self.head(h).squeeze(1)
        if self.embed is not None:
            logit = logit + (self.embed(conditions) * h).sum(dim=1)
        return logit, (self.aux(h) if self.aux is not None else None)
