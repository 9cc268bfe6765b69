"""The dB <-> [-1, 1] scaling a spectrogram generator keeps in its config, and the check of the (valence, arousal)
conditions it is asked for: shared by both generator families (`gan.py`, `flow.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


class DbScalingMixin:
    """For a model whose config holds `db_min` / `db_max`: the range of dB values its [-1, 1] outputs stand for."""

    config: dict[str, Any]

    @property
    def db_range(self) -> tuple[float, float]:
        if self.config.get("db_min") is None or self.config.get("db_max") is None:
            raise ValueError("this generator has no db_min/db_max in its config; it cannot map to dB")
        return float(self.config["db_min"]), float(self.config["db_max"])

    def to_unit(self, db: torch.Tensor) -> torch.Tensor:
        """dB -> [-1, 1] with the stored range (values outside the range are clipped)."""
        low, high = self.db_range
        return (2.0 * (db - low) / (high - low) - 1.0).clamp(-1.0, 1.0)

    def to_db(self, unit: torch.Tensor) -> torch.Tensor:
        """[-1, 1] -> dB with the stored range."""
        low, high = self.db_range
        return (unit.clamp(-1.0, 1.0) + 1.0) * 0.5 * (high - low) + low


def checked_conditions(conditions: np.ndarray | Sequence[Sequence[float]] | torch.Tensor,
                       condition_dim: int) -> torch.Tensor:
    """(n, condition_dim) float32 conditions in [-1, 1], or a ValueError that shows offending rows. A copy: callers
    may pass read-only arrays."""
    conditions = torch.from_numpy(np.array(conditions, dtype=np.float32))
    if conditions.ndim != 2 or conditions.shape[1] != condition_dim:
        raise ValueError(f"conditions must have shape (n, {condition_dim}), got {tuple(conditions.shape)}")
    if not torch.isfinite(conditions).all() or conditions.abs().max() > 1.0:
        bad = conditions[~((conditions.abs() <= 1.0).all(dim=1))][:3].tolist()
        raise ValueError(f"conditions (valence, arousal) must lie in [-1, 1]; got e.g. {bad}")
    return conditions
