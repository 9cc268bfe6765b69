"""Get a transformer backbone (ViT or AST) without ever hanging on the network.

`load_backbone(family, checkpoint, random_config)` resolves, in this order:

1. `checkpoint: null`      -> a randomly initialised backbone built from `random_config` (tests, demo, offline).
2. an existing local dir   -> `from_pretrained(dir)` (what `hf download ... --local-dir` writes).
3. a hub id in the cache   -> `from_pretrained(id, local_files_only=True)` (no network touched).
4. a hub id not cached     -> a ~3 s reachability probe; only if the hub answers do we download.
   Otherwise a `CheckpointUnavailableError` says how to fix it, within seconds, instead of
   huggingface_hub's retries.

What the checkpoint's preprocessor was (`preprocessor_config.json`, local dir or hub cache) comes back with
it: the ViT's image mean/std, the AST's feature mean/std, sampling rate, mel bins and frame count.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

logger = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREPROCESSOR_CONFIG = "preprocessor_config.json"


@dataclass(frozen=True)
class Backbone:
    """One transformer family: its transformers classes, where conf sets it, what its preprocessor tells us."""

    name: str
    config_class: str
    model_class: str
    model_kwargs: dict[str, Any]
    section: str  # the parameter section that sets checkpoint / random config
    random_config_key: str
    preprocessor_keys: tuple[str, ...]
    local_dir: str


BACKBONES = {
    "vit": Backbone("ViT", "ViTConfig", "ViTModel", {"add_pooling_layer": False}, "training.model",
                    "vit_config", ("image_mean", "image_std"), "data/06_models/pretrained/vit"),
    "ast": Backbone("AST", "ASTConfig", "ASTModel", {}, "training.ast", "ast_config",
                    ("mean", "std", "sampling_rate", "num_mel_bins", "do_normalize"),
                    "data/06_models/pretrained/ast"),
    # the frozen music encoder of `model: embedding` arms (CLAP's audio tower + projection, loaded natively)
    "embedding": Backbone("CLAP audio encoder", "ClapAudioConfig", "ClapAudioModelWithProjection", {},
                          "data_processing.embeddings", "clap_config",
                          ("feature_size", "sampling_rate", "hop_length", "fft_window_size", "max_length_s",
                           "frequency_min", "frequency_max", "truncation", "padding", "top_db"),
                          "data/06_models/pretrained/clap"),
}


class CheckpointUnavailableError(RuntimeError):
    """The requested pretrained weights are neither on disk nor downloadable right now."""


def load_backbone(family: str, checkpoint: str | None, random_config: dict[str, Any] | None = None,
                  probe_timeout_s: float = 3.0, revision: str | None = None):
    """Return `(backbone model, the checkpoint's preprocessor settings or {})` for `family` (`vit` | `ast` |
    `embedding`). `revision` pins a hub checkpoint to a branch, tag or commit (None: the newest; a local folder is
    what it is)."""
    import transformers

    spec = BACKBONES[family]
    config_class, model_class = getattr(transformers, spec.config_class), getattr(transformers, spec.model_class)
    if checkpoint is None:
        if random_config is None:
            raise ValueError(
                f"{spec.section}.checkpoint is null but {spec.section}.{spec.random_config_key} is not set: give "
                f"{spec.config_class} arguments (hidden_size, num_hidden_layers, ...) for a randomly initialised "
                f"model ({{}} = the base architecture)"
            )
        shown = str(random_config)
        logger.info("Building a randomly initialised %s from parameters: %s", spec.name,
                    shown if len(shown) <= 300 else f"{shown[:300]}... ({len(random_config)} settings)")
        return model_class(config_class(**random_config), **spec.model_kwargs), {}

    checkpoint = str(checkpoint)
    local = Path(checkpoint).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise CheckpointUnavailableError(
                f"checkpoint directory '{local}' has no config.json; point {spec.section}.checkpoint at a "
                "directory written by save_pretrained / `hf download <repo> --local-dir <dir>`"
            )
        logger.info("Loading %s backbone from local directory %s", spec.name, local)
        model = model_class.from_pretrained(str(local), **spec.model_kwargs)
        return model, _read_preprocessor(local / PREPROCESSOR_CONFIG, spec)
    if _looks_like_path(checkpoint):
        raise CheckpointUnavailableError(
            f"checkpoint directory '{checkpoint}' does not exist. {_how_to_fix(checkpoint, spec)}"
        )

    pinned = {"revision": revision} if revision else {}
    try:  # a cache hit needs no network at all
        model = model_class.from_pretrained(checkpoint, local_files_only=True, **pinned, **spec.model_kwargs)
        logger.info("Loaded %s backbone '%s' from the local Hugging Face cache", spec.name, checkpoint)
        return model, _hub_preprocessor(checkpoint, spec, probe_timeout_s, revision=revision)
    except OSError as cache_miss:
        logger.info("'%s' is not in the local Hugging Face cache (%s)", checkpoint, cache_miss)

    reachable, why = hub_reachable(probe_timeout_s)
    if not reachable:
        raise CheckpointUnavailableError(
            f"Pretrained {spec.name} '{checkpoint}' is not in the local Hugging Face cache and the hub is not "
            f"reachable ({why}). {_how_to_fix(checkpoint, spec)}"
        )
    logger.info("Downloading %s backbone '%s' from the Hugging Face hub", spec.name, checkpoint)
    try:
        model = model_class.from_pretrained(checkpoint, **pinned, **spec.model_kwargs)
    except OSError as exc:
        raise CheckpointUnavailableError(
            f"Could not load '{checkpoint}': {exc}. {_how_to_fix(checkpoint, spec)}") from exc
    return model, _hub_preprocessor(checkpoint, spec, probe_timeout_s, reachable=True, revision=revision)


def checkpoint_problem(family: str, checkpoint: str | None, probe_timeout_s: float,
                       revision: str | None = None) -> str:
    """Why `load_backbone` would fail for this checkpoint (one paragraph with the fix), or "" when it can load:
    the run's pre-flight check asks this before the first node, instead of a traceback hours into a run."""
    spec = BACKBONES[family]
    if checkpoint is None:
        return ""
    local = Path(str(checkpoint)).expanduser()
    if local.is_dir():
        return "" if (local / "config.json").is_file() else (
            f"{spec.section}.checkpoint: the folder '{local}' has no config.json. {_how_to_fix(str(checkpoint), spec)}")
    if _looks_like_path(str(checkpoint)):
        return (f"{spec.section}.checkpoint: the folder '{checkpoint}' does not exist. "
                f"{_how_to_fix(str(checkpoint), spec)}")
    if _cached_file(str(checkpoint), "config.json", revision) is not None:
        return ""
    reachable, why = hub_reachable(probe_timeout_s)
    if reachable:
        return ""
    return (f"{spec.section}.checkpoint: the pretrained {spec.name} '{checkpoint}' is not in the local Hugging Face "
            f"cache and the hub is not reachable ({why}). {_how_to_fix(str(checkpoint), spec)}")


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
    """Explicit parameters win, then the checkpoint's preprocessor config, then ImageNet (the Kaggle reference
    recipe's values)."""
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


def _how_to_fix(checkpoint: str, spec: Backbone) -> str:
    return (
        "Fix it one of three ways: (1) pre-download on a machine with network access, e.g. "
        f"`hf download {checkpoint} --local-dir {spec.local_dir}` "
        f"(older hubs: `huggingface-cli download {checkpoint} --local-dir ...`), then set "
        f"{spec.section}.checkpoint to that directory; (2) set checkpoint to any local directory written "
        f"by `{spec.model_class}.save_pretrained`; (3) set `checkpoint: null` and give "
        f"{spec.section}.{spec.random_config_key} ({spec.config_class} arguments) for a randomly initialised model."
    )


def _cached_file(repo_id: str, filename: str, revision: str | None = None) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, filename, revision=revision)
    except Exception:  # noqa: BLE001 - a cache lookup must never break training
        return None
    return Path(found) if isinstance(found, str) else None


def _hub_preprocessor(checkpoint: str, spec: Backbone, probe_timeout_s: float, reachable: bool = False,
                      revision: str | None = None) -> dict:
    """The hub checkpoint's preprocessor settings: from the cache, else downloaded when the hub answers
    (`from_pretrained` fetches only config.json and the weights); {} when the repo has none or the hub is away."""
    path = _cached_file(checkpoint, PREPROCESSOR_CONFIG, revision)
    if path is None and (reachable or hub_reachable(probe_timeout_s)[0]):
        try:
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(checkpoint, PREPROCESSOR_CONFIG, revision=revision))
        except Exception as exc:  # noqa: BLE001 - a repo without the file is allowed; the caller decides
            logger.info("'%s' has no %s on the hub (%s)", checkpoint, PREPROCESSOR_CONFIG, exc)
    return _read_preprocessor(path, spec)


def _read_preprocessor(path: Path | None, spec: Backbone) -> dict[str, Any]:
    if path is None or not Path(path).is_file():
        return {}
    config = json.loads(Path(path).read_text())
    info = {k: config[k] for k in spec.preprocessor_keys if k in config}
    if info:
        logger.info("%s preprocessor settings from %s: %s", spec.name, path, info)
    return info
