"""The conditioning check run while the GAN trains: does a sample carry the V/A it was asked for?

A ridge regressor is fitted once on the pooled mel statistics of real TRAIN windows (each labelled with
its song's V/A; never a val or test song). Every `eval_every_steps`, the generator turns a fixed batch of
(noise, condition) pairs into samples; the regressor reads their V/A back, and the CCC against the
intended conditions is the conditioning score. The Fréchet ratio on the same features says how far the
samples are from real windows, relative to two halves of the real windows themselves.

Which evaluation's weights are kept (`score`) is the probe's rule, set in conf (`probe.select_on`,
`probe.max_frechet_ratio`): the worst-conditioned target by default, so that a checkpoint strong on arousal
cannot win while valence lags (the mean let a noisy valence reading ride on arousal), among evaluations whose
samples are not far from real windows.
"""

from __future__ import annotations

import numpy as np
import torch

from music_emotion.data import TARGETS
from music_emotion.data.features import pooled_mel_statistics
from music_emotion.gan.quality import fit_ridge, frechet_distance
from music_emotion.models.runtime import autocast
from music_emotion.study.metrics import ccc

SELECTION_RULES = ("worst_target", "mean")


class ConditioningProbe:
    def __init__(
        self,
        real_features: np.ndarray,
        real_targets: np.ndarray,
        conditions: np.ndarray,
        noise: torch.Tensor,
        ridge_alpha: float,
        frechet_ridge: float,
        batch_size: int,
        seed: int,
        select_on: str,
        max_frechet_ratio: float | None,
    ) -> None:
        if select_on not in SELECTION_RULES:
            raise ValueError(f"gan_augmentation.probe.select_on must be one of {SELECTION_RULES}, got {select_on!r}")
        self.select_on, self.max_frechet_ratio = select_on, max_frechet_ratio
        finite = np.isfinite(real_features).all(axis=1)  # NaN input is the training loop's to report, by step
        real_features, real_targets = real_features[finite], real_targets[finite]
        self.regressor = fit_ridge(real_features, real_targets, ridge_alpha)
        halves = np.random.default_rng(seed).permutation(len(real_features))
        half = len(halves) // 2
        self.real_a, real_b = real_features[halves[:half]], real_features[halves[half:]]
        self.frechet_ridge = frechet_ridge
        self.floor = frechet_distance(self.real_a, real_b, frechet_ridge)
        self.conditions, self.noise, self.batch_size = conditions, noise, batch_size

    def score(self, row: dict[str, float]) -> float:
        """The kept checkpoint has the highest score: the conditioning CCC by `select_on`, minus 2 (below any
        eligible one) when the Fréchet ratio exceeds `max_frechet_ratio`."""
        cccs = [row[f"conditioning_ccc_{t}"] for t in TARGETS]
        value = min(cccs) if self.select_on == "worst_target" else float(np.mean(cccs))
        too_far = self.max_frechet_ratio is not None and not row["frechet_ratio"] <= self.max_frechet_ratio
        return value - 2.0 if too_far else value

    @property
    def rule(self) -> str:
        what = "lowest" if self.select_on == "worst_target" else "mean"
        limit = f", Fréchet ratio <= {self.max_frechet_ratio:g} first" if self.max_frechet_ratio is not None else ""
        return f"{what} per-target conditioning CCC of a ridge fit on real TRAIN windows{limit} (never val/test songs)"

    def measure(self, generator, device: torch.device) -> dict[str, float]:
        """Conditioning CCC per target and Fréchet ratio of `generator`'s samples for the fixed batch."""
        generator.to(device)
        with autocast(device):
            samples = generator.generate(self.conditions, noise=self.noise, batch_size=self.batch_size, device=device)
        features = pooled_mel_statistics(samples)
        read_back = self.regressor.predict(features)
        out = {f"conditioning_ccc_{t}": ccc(self.conditions[:, i], read_back[:, i]) for i, t in enumerate(TARGETS)}
        distance = frechet_distance(self.real_a, features[: len(self.real_a)], self.frechet_ridge)
        out["frechet_ratio"] = distance / self.floor if self.floor > 0 else float("nan")
        return out
