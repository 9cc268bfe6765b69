"""Save/load for the project's torch models, in the spirit of transformers' `from_pretrained`.

A model keeps its constructor arguments in `self.config` (a JSON-able dict). `save_pretrained`
writes `config.json` (with the class path) and `model.safetensors`; `load_pretrained_model`
rebuilds the right class from that directory alone — no pickle, no training code needed.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def current_umask() -> int:
    """The process umask (reading it means setting it; it is put straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class PretrainedModelMixin:
    """Mix into an `nn.Module` whose `__init__` takes a `config: dict` and stores it as `self.config`."""

    config: dict[str, Any]

    def save_pretrained(self, directory: str | Path) -> None:
        """config.json + model.safetensors in `directory`, both with the user's umask."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        cls = type(self)
        config = {"model_class": f"{cls.__module__}.{cls.__qualname__}", **self.config}
        (directory / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True))
        # safetensors refuses shared/non-contiguous storage: save contiguous clones.
        state = {k: v.detach().cpu().contiguous().clone() for k, v in self.state_dict().items()}
        save_file(state, str(directory / WEIGHTS_NAME), metadata={"format": "pt"})
        # safetensors creates its file with mode 0600 whatever the umask: other users would get "No such file"
        (directory / WEIGHTS_NAME).chmod(0o666 & ~current_umask())

    def __reduce__(self):
        """Pickle as (class, config, CPU weights, mode): the same recipe as save_pretrained, so every project model
        crosses process boundaries (ParallelRunner, SharedMemoryDataset), parametrised ones (spectral norm) too."""
        state = {k: v.detach().cpu() for k, v in self.state_dict().items()}
        return _rebuild_model, (type(self), self.config, state, self.training)

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str | torch.device = "cpu"):
        directory = Path(directory)
        config = read_model_config(directory)
        saved_class, expected = config.pop("model_class", None), f"{cls.__module__}.{cls.__qualname__}"
        if saved_class and saved_class != expected:
            raise ValueError(
                f"'{directory}' holds a {saved_class.rsplit('.', 1)[-1]}, not a {cls.__name__}: it cannot be loaded as "
                "one. Use music_emotion.models.base.load_pretrained_model(directory), which rebuilds the class it "
                "was saved as."
            )
        model = cls(config)
        state = load_file(str(directory / WEIGHTS_NAME), device=str(map_location))
        model.load_state_dict(state)
        model.eval()
        return model


_REBUILD_LOCK = threading.Lock()


def _rebuild_model(cls, config: dict[str, Any], state: dict[str, torch.Tensor], training: bool):
    # One at a time: ParallelRunner's shared-memory manager unpickles in one thread per client, and transformers'
    # lazy module attribute access (`from transformers import ViTConfig`) is not thread-safe on first use.
    with _REBUILD_LOCK:
        model = cls(config)
    model.load_state_dict(state)
    return model.train(training)


def check_family(config: dict[str, Any], family: str, backbone_type_prefix: str) -> None:
    """Refuse a config saved for another model family (e.g. an AST's config handed to the ViT class): the
    backbone would be rebuilt from the wrong architecture, and the weights would not fit or, worse, partly fit."""
    saved = config.get("family", "vit")  # models saved before the AST existed are ViTs
    backbone_type = str((config.get("backbone") or {}).get("model_type", ""))
    if saved != family or not backbone_type.startswith(backbone_type_prefix):
        raise ValueError(
            f"this model config is for the '{saved}' family (backbone model_type {backbone_type!r}), not '{family}': "
            "load it with music_emotion.models.base.load_pretrained_model, which picks the saved family's class"
        )


def read_model_config(directory: str | Path) -> dict[str, Any]:
    """The `config.json` of a saved model directory, with a clear error when it is not one."""
    directory = Path(directory)
    config_path = directory / CONFIG_NAME
    weights_path = directory / WEIGHTS_NAME
    if not config_path.is_file() or not weights_path.is_file():
        raise FileNotFoundError(
            f"'{directory}' is not a saved model directory: expected {CONFIG_NAME} and {WEIGHTS_NAME} inside it"
        )
    return json.loads(config_path.read_text())


def load_pretrained_model(directory: str | Path, map_location: str | torch.device = "cpu"):
    """Rebuild whichever project model was saved in `directory` (class named in its config.json)."""
    config = read_model_config(directory)
    class_path = config.get("model_class")
    if not class_path or not class_path.startswith("music_emotion."):
        raise ValueError(f"'{directory}/{CONFIG_NAME}' does not name a music_emotion model class")
    module_name, _, class_name = class_path.rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.from_pretrained(directory, map_location=map_location)
