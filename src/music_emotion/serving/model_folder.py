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
import math
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from music_emotion.models.base import CONFIG_NAME, WEIGHTS_NAME, current_umask

SETTINGS_NAME = "inference.json"
CARD_NAME = "README.md"
FOLDER_FILES = (CONFIG_NAME, WEIGHTS_NAME, SETTINGS_NAME, CARD_NAME)
MAX_JSON_BYTES = 1 << 20  # inference.json is ~150 bytes, config.json a few kB: never read a huge one whole


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
        """From the run's `params:inference` and `params:data_processing.labels`, checked as a folder's are."""
        return cls.from_dict({"min_window_fraction": inference["min_window_fraction"],
                              "batch_size": inference["batch_size"], "files_per_batch": inference["files_per_batch"],
                              "rating_scale": [labels["rating_min"], labels["rating_max"]]},
                             "parameters inference.* / data_processing.labels.rating_min, rating_max")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = SETTINGS_NAME) -> PredictionSettings:
        expected = {"min_window_fraction", "batch_size", "files_per_batch", "rating_scale"}
        if not isinstance(data, dict) or set(data) != expected:
            raise ModelFolderError(f"'{source}' must hold exactly the keys {sorted(expected)}; re-export the model "
                                   "with `music-emotion export ARM DIR`")
        fraction = data["min_window_fraction"]
        if not _real(fraction) or not 0 < fraction <= 1:
            raise ModelFolderError(f"'{source}': min_window_fraction must be a number in (0, 1], got {fraction!r}")
        for key in ("batch_size", "files_per_batch"):
            if isinstance(data[key], bool) or not isinstance(data[key], int) or data[key] < 1:
                raise ModelFolderError(f"'{source}': {key} must be a whole number of at least 1, got {data[key]!r}")
        scale = data["rating_scale"]
        if not (isinstance(scale, list | tuple) and len(scale) == 2 and all(_real(v) for v in scale)
                and scale[1] > scale[0]):
            raise ModelFolderError(f"'{source}': rating_scale must be two finite numbers [low, high] with "
                                   f"low < high (DEAM: [1, 9]), got {scale!r}")
        return cls(float(fraction), data["batch_size"], data["files_per_batch"], (float(scale[0]), float(scale[1])))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rating_scale": list(self.rating_scale)}


def write_model_folder(model: Any, directory: str | Path, settings: PredictionSettings, card: str) -> Path:
    """Write the four files into `directory` (new, or empty), atomically: into a scratch folder of this call's own
    beside it, flushed, then renamed into place. A kill never leaves a folder that looks complete, a user's
    folder is never deleted or replaced, and of two exports racing to one target exactly one wins, whole; the
    other gets a `ModelFolderError`."""
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ModelFolderError(f"'{directory}' exists and is not empty (or is a file): export into a new folder "
                               "(nothing was overwritten)")
    PredictionSettings.from_dict(settings.to_dict(), "the settings to export")  # only what its loader accepts
    directory.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.", suffix=".partial"))
    try:
        scratch.chmod(0o777 & ~current_umask())  # mkdtemp makes it 0700: a shared model folder must be readable
        model.save_pretrained(scratch)
        (scratch / SETTINGS_NAME).write_text(json.dumps(settings.to_dict(), indent=2) + "\n")
        (scratch / CARD_NAME).write_text(card)
        for name in FOLDER_FILES:
            with (scratch / name).open("rb") as handle:
                os.fsync(handle.fileno())
        _rename_into_place(scratch, directory)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return directory


def _rename_into_place(scratch: Path, directory: Path) -> None:
    """`rename(2)` replaces an empty folder but never a non-empty one: so the target is emptied of nothing but
    an empty folder, and a rename that meets another export's finished folder fails instead of mixing them."""
    try:
        directory.rmdir()  # an empty folder the user made for the export
    except FileNotFoundError:
        pass
    except OSError as exc:  # not empty any more: another export finished first
        raise ModelFolderError(f"'{directory}' was exported by another run meanwhile; nothing was overwritten") from exc
    try:
        scratch.rename(directory)
    except OSError as exc:
        raise ModelFolderError(f"'{directory}' was exported by another run meanwhile; nothing was overwritten") from exc


def _real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_settings(directory: str | Path) -> PredictionSettings:
    path = Path(directory) / SETTINGS_NAME
    if not path.is_file():
        raise ModelFolderError(
            f"'{directory}' has no {SETTINGS_NAME}: it is a saved arm, not an exported model folder. Export it with "
            "`music-emotion export ARM DIR` (in the project that trained it), or pass the arm's name as --model"
        )
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ModelFolderError(f"'{path}' is {path.stat().st_size:,} bytes, far more than settings take "
                               f"(at most {MAX_JSON_BYTES:,}): not a model folder's file; re-export the model")
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
