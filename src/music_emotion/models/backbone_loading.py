"""Get a ViT backbone without ever hanging on the network.

`load_vit_backbone(checkpoint, vit_config)` resolves, in this order:

1. `checkpoint: null`      -> a randomly initialised `ViTModel` built from `vit_config` (tests, demo, offline).
2. an existing local dir   -> `ViTModel.from_pretrained(dir)` (what `hf download ... --local-dir` writes).
3. a hub id in the cache   -> `from_pretrained(id, local_files_only=True)` (no network touched).
4. a hub id not cached     -> a ~3 s reachability probe; only if the hub answers do we download.
   Otherwise a `CheckpointUnavailableError` says how to fix it, within seconds, instead of
   huggingface_hub's retries.

The image mean/std the checkpoint was trained with is read from its `preprocessor_config.json` when
there is one (local dir or hub cache); otherwise the ImageNet values the seed used.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREPROCESSOR_CONFIG = "preprocessor_config.json"


class CheckpointUnavailableError(RuntimeError):
    """The requested pretrained weights are neither on disk nor downloadable right now."""


def load_vit_backbone(
    checkpoint: str | None,
    vit_config: dict[str, Any] | None = None,
    probe_timeout_s: float = 3.0,
):
    """Return `(ViTModel without pooler, {"image_mean": [...], "image_std": [...]} or {})`."""
    from transformers import ViTConfig, ViTModel

    if checkpoint is None:
        if vit_config is None:
            raise ValueError(
                "vit_training.model.checkpoint is null but vit_training.model.vit_config is not set: "
                "give ViTConfig arguments (hidden_size, num_hidden_layers, ...) for a randomly initialised "
                "model ({} = the ViT-B/16 architecture)"
            )
        logger.info("Building a randomly initialised ViT from parameters: %s", vit_config)
        return ViTModel(ViTConfig(**vit_config), add_pooling_layer=False), {}

    checkpoint = str(checkpoint)
    local = Path(checkpoint).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise CheckpointUnavailableError(
                f"checkpoint directory '{local}' has no config.json; point vit_training.model.checkpoint at a "
                "directory written by save_pretrained / `hf download <repo> --local-dir <dir>`"
            )
        logger.info("Loading ViT backbone from local directory %s", local)
        model = ViTModel.from_pretrained(str(local), add_pooling_layer=False)
        return model, _read_preprocessor(local / PREPROCESSOR_CONFIG)
    if _looks_like_path(checkpoint):
        raise CheckpointUnavailableError(
            f"checkpoint directory '{checkpoint}' does not exist. {_how_to_fix(checkpoint)}"
        )

    try:  # a cache hit needs no network at all
        model = ViTModel.from_pretrained(checkpoint, add_pooling_layer=False, local_files_only=True)
        logger.info("Loaded ViT backbone '%s' from the local Hugging Face cache", checkpoint)
        return model, _read_preprocessor(_cached_file(checkpoint, PREPROCESSOR_CONFIG))
    except OSError as cache_miss:
        logger.info("'%s' is not in the local Hugging Face cache (%s)", checkpoint, cache_miss)

    reachable, why = hub_reachable(probe_timeout_s)
    if not reachable:
        raise CheckpointUnavailableError(
            f"Pretrained ViT '{checkpoint}' is not in the local Hugging Face cache and the hub is not reachable "
            f"({why}). {_how_to_fix(checkpoint)}"
        )
    logger.info("Downloading ViT backbone '%s' from the Hugging Face hub", checkpoint)
    try:
        model = ViTModel.from_pretrained(checkpoint, add_pooling_layer=False)
    except OSError as exc:
        raise CheckpointUnavailableError(f"Could not load '{checkpoint}': {exc}. {_how_to_fix(checkpoint)}") from exc
    return model, _read_preprocessor(_cached_file(checkpoint, PREPROCESSOR_CONFIG))


def hub_reachable(timeout_s: float = 3.0) -> tuple[bool, str]:
    """A TCP connect to the hub (or the HTTPS proxy), bounded by `timeout_s` including DNS."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False, "HF_HUB_OFFLINE is set"
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    target = urlparse(proxy if proxy else os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = target.hostname or "huggingface.co"
    port = target.port or (443 if target.scheme in ("https", "") else 80)
    result: dict[str, Any] = {}

    def _connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            result["ok"] = True
        except OSError as exc:
            result["error"] = exc

    # getaddrinfo ignores socket timeouts, so bound the whole probe with a daemon thread.
    thread = threading.Thread(target=_connect, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if result.get("ok"):
        return True, f"{host}:{port} answered"
    if "error" in result:
        return False, f"cannot connect to {host}:{port}: {result['error']}"
    return False, f"no answer from {host}:{port} within {timeout_s:g} s"


def image_normalisation(processor_info: dict[str, Any], image_mean: Any = None, image_std: Any = None) -> dict:
    """Explicit parameters win, then the checkpoint's preprocessor config, then ImageNet (the seed's values)."""
    mean = image_mean if image_mean is not None else processor_info.get("image_mean", IMAGENET_MEAN)
    std = image_std if image_std is not None else processor_info.get("image_std", IMAGENET_STD)
    mean, std = [float(v) for v in mean], [float(v) for v in std]
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ValueError(f"image_mean/image_std must be 3 numbers each (std > 0), got {mean} / {std}")
    return {"image_mean": mean, "image_std": std}


def _looks_like_path(checkpoint: str) -> bool:
    """Hub ids are `name` or `org/name`; anything else that is not on disk was meant as a directory."""
    return (
        checkpoint.startswith((".", "/", "~"))
        or "\\" in checkpoint
        or checkpoint.count("/") > 1
    )


def _how_to_fix(checkpoint: str) -> str:
    return (
        "Fix it one of three ways: (1) pre-download on a machine with network access, e.g. "
        f"`hf download {checkpoint} --local-dir data/06_models/pretrained/vit` "
        f"(older hubs: `huggingface-cli download {checkpoint} --local-dir ...`), then set "
        "vit_training.model.checkpoint to that directory; (2) set checkpoint to any local directory written "
        "by `ViTModel.save_pretrained`; (3) set `checkpoint: null` and give vit_training.model.vit_config "
        "(ViTConfig arguments) for a randomly initialised model."
    )


def _cached_file(repo_id: str, filename: str) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, filename)
    except Exception:  # noqa: BLE001 - a cache lookup must never break training
        return None
    return Path(found) if isinstance(found, str) else None


def _read_preprocessor(path: Path | None) -> dict[str, Any]:
    if path is None or not Path(path).is_file():
        return {}
    config = json.loads(Path(path).read_text())
    info = {k: config[k] for k in ("image_mean", "image_std") if k in config}
    if info:
        logger.info("Image normalisation from %s: %s", path, info)
    return info
