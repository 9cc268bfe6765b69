"""A shareable model folder: what `music-emotion export` writes and `EmotionModel.from_pretrained` reads.

The folder is a Hugging Face model repository as it is (`push_to_hub` / `hf upload` take it unchanged):

- `config.json` + `model.safetensors`: the trained arm (`models.base`), its backbone config, the feature
  extraction it was trained on and the input normalisation it stores;
- `inference.json`: how songs are predicted (window fraction, batch size, the rating scale for `scale="deam"`),
  copied from the run's `inference` and `data_processing.labels` parameters;
- `README.md`: the model card (`model_card.py`), generated from the run's records.

A folder (or hub repository) comes from someone else: it is checked before any class is built — no remote code
(`auto_map` or Python files), a project model class only, real safetensors, a config whose size fits its weights.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from music_emotion.models.base import CONFIG_NAME, WEIGHTS_NAME

SETTINGS_NAME = "inference.json"
CARD_NAME = "README.md"
FOLDER_FILES = (CONFIG_NAME, WEIGHTS_NAME, SETTINGS_NAME, CARD_NAME)


class ModelFolderError(ValueError):
    """A model folder or hub id that cannot be used; the message says which file and what to do."""


@dataclass(frozen=True)
class PredictionSettings:
    """How a song is predicted, beside the model's own windows: saved as `inference.json`."""

    min_window_fraction: float       # a last partial window is kept when it holds this much of a window
    batch_size: int                  # windows per forward pass
    files_per_batch: int             # files decoded per engine batch
    rating_scale: tuple[float, float]  # the training labels' rating range (DEAM: 1-9) for scale="deam"

    @classmethod
    def from_run(cls, inference: dict[str, Any], labels: dict[str, Any]) -> PredictionSettings:
        """From the run's `params:inference` and `params:data_processing.labels`."""
        return cls(float(inference["min_window_fraction"]), int(inference["batch_size"]),
                   int(inference["files_per_batch"]), (float(labels["rating_min"]), float(labels["rating_max"])))

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = SETTINGS_NAME) -> PredictionSettings:
        expected = {"min_window_fraction", "batch_size", "files_per_batch", "rating_scale"}
        if not isinstance(data, dict) or set(data) != expected:
            raise ModelFolderError(f"'{source}' must hold exactly the keys {sorted(expected)}; re-export the model "
                                   "with `music-emotion export ARM DIR`")
        low, high = (float(v) for v in data["rating_scale"])
        settings = cls(float(data["min_window_fraction"]), int(data["batch_size"]), int(data["files_per_batch"]),
                       (low, high))
        if not (0 < settings.min_window_fraction <= 1 and settings.batch_size > 0 and settings.files_per_batch > 0
                and high > low):
            raise ModelFolderError(f"'{source}' holds impossible settings {data}")
        return settings

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rating_scale": list(self.rating_scale)}


def write_model_folder(model: Any, directory: str | Path, settings: PredictionSettings, card: str) -> Path:
    """Write the four files into `directory` (which must not hold a model already), atomically: into a
    `.partial` sibling, flushed, then renamed, so a kill never leaves a folder that looks complete."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise ModelFolderError(f"'{directory}' exists and is not empty: export into a new folder (nothing was "
                               "overwritten)")
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    (partial / SETTINGS_NAME).write_text(json.dumps(settings.to_dict(), indent=2) + "\n")
    (partial / CARD_NAME).write_text(card)
    for name in FOLDER_FILES:
        with (partial / name).open("rb") as handle:
            os.fsync(handle.fileno())
    if directory.exists():
        directory.rmdir()
    partial.rename(directory)
    return directory


def read_settings(directory: str | Path) -> PredictionSettings:
    path = Path(directory) / SETTINGS_NAME
    if not path.is_file():
        raise ModelFolderError(
            f"'{directory}' has no {SETTINGS_NAME}: it is a saved arm, not an exported model folder. Export it with "
            "`music-emotion export ARM DIR` (in the project that trained it), or pass the arm's name as --model"
        )
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFolderError(f"'{path}' is not valid JSON ({exc}); re-export the model") from None
    return PredictionSettings.from_dict(data, str(path))


def fetch_from_hub(repo_id: str, probe_timeout_s: float = 3.0) -> Path:
    """The hub repository's model folder in the local cache (downloaded when the hub answers). Offline: the same
    fail-fast message as training's checkpoints, within seconds, never huggingface_hub's retries."""
    from huggingface_hub import snapshot_download

    from music_emotion.models.backbone_loading import hub_reachable

    try:  # a cached copy needs no network
        return Path(snapshot_download(repo_id, allow_patterns=list(FOLDER_FILES), local_files_only=True))
    except Exception:  # noqa: BLE001 - any cache miss: try the hub below
        pass
    reachable, why = hub_reachable(probe_timeout_s)
    if not reachable:
        raise ModelFolderError(
            f"'{repo_id}' is neither a folder here nor in the local Hugging Face cache, and the hub is not reachable "
            f"({why}). On a machine with network: `hf download {repo_id} --local-dir my_model`, then use --model "
            "my_model"
        )
    try:
        return Path(snapshot_download(repo_id, allow_patterns=list(FOLDER_FILES)))
    except Exception as exc:  # noqa: BLE001 - a missing repo, a gated one, a broken download: one message
        raise ModelFolderError(f"could not download '{repo_id}' from the hub: {exc}") from None


def resolve_model_folder(source: str | Path) -> Path:
    """A local folder as it is; anything else that looks like `owner/name` is a hub id."""
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    text = str(source)
    if path.exists() or text.startswith((".", "/", "~")) or text.count("/") != 1:
        raise ModelFolderError(f"'{source}' is not a model folder (no such directory) nor a hub id (owner/name)")
    return fetch_from_hub(text)
