"""Save/load for the project's torch models, in the spirit of transformers' `from_pretrained`.

A model keeps its constructor arguments in `self.config` (a JSON-able dict). `save_pretrained`
writes `config.json` (with the class path) and `model.safetensors`; `load_pretrained_model`
rebuilds the right class from that directory alone — no pickle, no training code needed.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import threading
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MAX_CONFIG_BYTES = 4 << 20  # a model config is a few kB: a huge one is refused before it is read whole
MODEL_PACKAGE = "music_emotion.models"  # the only package a saved config.json may name a class from


def update_with_weights(digest: Any, module: torch.nn.Module, dtype: torch.dtype | None = None) -> None:
    """Feed a module's weights to a hashlib digest: each name and its tensor's bytes, in name order, cast to `dtype`
    (None: as stored). The lineage fingerprint of a model and the hash of a random encoder both read weights so."""
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        tensor = tensor.detach().to("cpu", dtype) if dtype is not None else tensor.detach().cpu()
        digest.update(tensor.contiguous().numpy().tobytes())


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
        check_size_fits_weights(config, weights_shapes(directory / WEIGHTS_NAME), directory)
        model = cls(config)
        state = load_file(str(directory / WEIGHTS_NAME), device=str(map_location))
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ValueError(f"the weights in '{directory / WEIGHTS_NAME}' do not fit its {CONFIG_NAME}: "
                             f"{str(exc).splitlines()[0]}") from None
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
    """The `config.json` of a saved model directory, with a clear error when it is not one (or asks to run code)."""
    directory = Path(directory)
    config_path = directory / CONFIG_NAME
    weights_path = directory / WEIGHTS_NAME
    if not config_path.is_file() or not weights_path.is_file():
        raise FileNotFoundError(
            f"'{directory}' is not a saved model directory: expected {CONFIG_NAME} and {WEIGHTS_NAME} inside it"
        )
    if config_path.stat().st_size > MAX_CONFIG_BYTES:
        raise ValueError(f"'{config_path}' is {config_path.stat().st_size:,} bytes, far more than a model config "
                         f"takes (at most {MAX_CONFIG_BYTES:,}): not a saved model's config")
    try:
        config = json.loads(config_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"'{config_path}' is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ValueError(f"'{config_path}' must hold a JSON object")
    code = sorted(p.name for p in directory.glob("*.py"))
    if "auto_map" in config or code:
        raise ValueError(
            f"'{directory}' asks to run code of its own ({'auto_map in ' + CONFIG_NAME if 'auto_map' in config else ''}"
            f"{' ' if 'auto_map' in config and code else ''}{', '.join(code)}): refused. Project models never need "
            "remote code; use a folder written by `music-emotion export`"
        )
    return config


# Bytes the safetensors header may take (the format's own limit is 100 MB; ours are a few hundred KB).
MAX_HEADER_BYTES = 100_000_000


def weights_shapes(weights_path: Path) -> dict[str, list[int]]:
    """Tensor name -> shape from the safetensors header alone (nothing else is read): a pickle, a truncated file
    or any other impostor named model.safetensors is refused here, before torch or a class is touched."""
    with weights_path.open("rb") as handle:
        size_bytes = handle.read(8)
        size = int.from_bytes(size_bytes, "little") if len(size_bytes) == 8 else -1
        if not 0 < size <= min(MAX_HEADER_BYTES, weights_path.stat().st_size - 8):
            raise ValueError(f"'{weights_path}' is not a safetensors file (a pickle or a damaged file?): refused")
        try:
            header = json.loads(handle.read(size))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(f"'{weights_path}' is not a safetensors file (its header is not JSON): refused") from None
    return {k: list(v["shape"]) for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}


def check_size_fits_weights(config: dict[str, Any], shapes: dict[str, list[int]], directory: Path) -> None:
    """Refuse a config whose transformer would be far larger than the weights stored beside it (a tampered or
    corrupt config.json asking for 10^7 layers would otherwise allocate until the machine runs out of memory)."""
    backbone = config.get("backbone") or {}
    stored = sum(math.prod(shape) for shape in shapes.values())
    layers, hidden = int(backbone.get("num_hidden_layers", 0)), int(backbone.get("hidden_size", 0))
    inner = int(backbone.get("intermediate_size", 4 * hidden))
    head = int((config.get("head") or {}).get("hidden_size", 0))
    asked = layers * (4 * hidden * hidden + 2 * hidden * inner) + hidden * head
    if asked > 2 * stored + 1_000_000:
        raise ValueError(
            f"'{directory / CONFIG_NAME}' describes a model of about {asked:,} parameters ({layers} layers of width "
            f"{hidden}) but '{WEIGHTS_NAME}' holds {stored:,}: the config does not belong to these weights. Refused "
            "before anything was built"
        )


def load_pretrained_model(directory: str | Path, map_location: str | torch.device = "cpu"):
    """Rebuild whichever project model was saved in `directory` (class named in its config.json), after checking
    that the folder runs no code, names a class of `music_emotion.models`, and holds weights that fit its config."""
    directory = Path(directory)
    config = read_model_config(directory)
    class_path = config.get("model_class")
    if not isinstance(class_path, str) or not class_path.startswith(MODEL_PACKAGE + "."):
        raise ValueError(f"'{directory / CONFIG_NAME}' does not name a music_emotion model class (one of "
                         f"{MODEL_PACKAGE}; model_class: {class_path!r}): refused")
    module_name, _, class_name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise ValueError(f"'{directory / CONFIG_NAME}' names {class_path}, which this version of music_emotion does "
                         "not have") from None
    if not (isinstance(cls, type) and issubclass(cls, PretrainedModelMixin)):
        raise ValueError(f"'{directory / CONFIG_NAME}' names {class_path}, which is not a saved-model class: refused")
    return cls.from_pretrained(directory, map_location=map_location)
