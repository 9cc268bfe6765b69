"""What every fine-tuned transformer of the project shares: the V/A head and the windowed-model interface.

The ViT and the AST differ in backbone and input; both end in the same small MLP on a pooled token and both
predict a song from its windows (`window_frames` long, `window_stride` apart), so training, validation, test
and inference treat them alike.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import torch
from torch import nn

Activation = Literal["tanh", "none"]  # tanh bounds every prediction to [-1, 1]
ACTIVATIONS = get_args(Activation)


def regression_head(hidden: int, head: dict[str, Any]) -> nn.Sequential:
    """dropout -> hidden -> `head.hidden_size` -> GELU -> dropout -> `head.n_outputs`."""
    return nn.Sequential(
        nn.Dropout(head["dropout"]),
        nn.Linear(hidden, head["hidden_size"]),
        nn.GELU(),
        nn.Dropout(head["dropout"]),
        nn.Linear(head["hidden_size"], head["n_outputs"]),
    )


def bounded(out: torch.Tensor, activation: str) -> torch.Tensor:
    """`tanh` bounds every prediction to [-1, 1], the documented range; `none` leaves it linear."""
    return torch.tanh(out) if activation == "tanh" else out


def parameter_counts(model: nn.Module) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable, "frozen": total - trainable}


class WindowedRegressor:
    """Mixin: a model whose `config["input"]` says how songs are cut into windows; `predict` takes raw windows."""

    config: dict[str, Any]

    @property
    def family(self) -> str:
        return str(self.config.get("family", "vit"))

    @property
    def window_frames(self) -> int:
        return int(self.config["input"]["window_frames"])

    @property
    def window_stride(self) -> int:
        return int(self.config["input"]["window_stride"])

    @property
    def description(self) -> str:
        """e.g. "AST (MIT/ast-finetuned-audioset-10-10-0.4593) on kaldi_fbank features": what a log says it used."""
        extraction = self.config.get("extraction") or {}
        return (f"{self.family.upper()} ({self.config.get('checkpoint') or 'random init'}) on "
                f"{extraction.get('kind', 'log_mel')} features at {extraction.get('sample_rate', '?')} Hz")
