"""What makes an experiment resumable: one record per finished (seed, fold, arm), keyed by what determines it.

A record holds one arm's test predictions in one fold x seed and its training facts. Its key is a hash of
everything the result depends on and nothing else: the protocol version of this code, the fold's train / val /
test songs, the seed, the arm's own settings (its model family, augmentations and GAN flag; not its label or
colour), the parameter sections its nodes read (a ridge arm reads `training.baselines.ridge`, a ViT arm the
training settings and its own augmentations, a GAN arm also `gan_augmentation`), and a content fingerprint of the
inputs (the spectrograms it reads, the ratings). So a changed arm retrains that arm in every unit and nothing
else, a changed fold count or input set retrains everything, and two configurations can never meet in one
aggregation: their records have different keys.

Records are JSON (floats written by `repr`, NaN as Python's json writes it, so read back bit-identically), one file
per key, written atomically (temporary file + `os.replace`), so a run killed at any moment leaves either a whole
record or none. Each carries a SHA-256 of its own content: a record edited by hand or damaged on disk (valid JSON,
other numbers) is named and retrained, never aggregated, and so is one whose rows are not the fold's test songs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.jsonable import canonical_json, json_default
from music_emotion.study.arms import Arm
from music_emotion.study.lineage import update_with_identity, update_with_table

logger = logging.getLogger(__name__)

# Bump when training, evaluation or the record layout changes what a record means: every old record is retrained.
PROTOCOL_VERSION = 2  # 2: the steps budget ends the last pass part-way (arms with synthetic samples)
_DISPLAY_KEYS = ("label", "colour")  # how figures show an arm; never a reason to retrain it
_HASH_BLOCK = 64  # spectrograms per hashing block: bounded memory over a memory-mapped set


@dataclass
class UnitRecord:
    """One arm's result in one fold x seed: its test predictions, its training facts, and where it came from."""

    unit: str
    arm: str
    key: str
    predictions: pd.DataFrame
    facts: dict[str, Any]
    resumed: bool = False  # read back from an earlier run rather than trained in this one


def content_fingerprint(artefact: SpectrogramSet | pd.DataFrame) -> str:
    """A hash of a spectrogram set's ids, meta and every value (read in blocks, so a memory map stays on disk),
    or of a table's content: two inputs with the same fingerprint give the same training."""
    digest = hashlib.blake2b(digest_size=16)
    if isinstance(artefact, pd.DataFrame):
        update_with_table(digest, artefact)
        return digest.hexdigest()
    update_with_identity(digest, artefact)
    digest.update(str(artefact.values.dtype).encode())
    for start in range(0, len(artefact), _HASH_BLOCK):
        digest.update(np.ascontiguousarray(artefact.values[start:start + _HASH_BLOCK]).tobytes())
    return digest.hexdigest()


def arm_dependencies(arm: Arm, arm_spec: dict[str, Any], training: dict[str, Any], ridge: dict[str, Any],
                     generators: dict[str, dict[str, Any]], generation: dict[str, Any]) -> dict[str, Any]:
    """The settings an arm's result depends on: the sections its fitting and scoring nodes read, narrowed to it
    (`generators`: family -> its section, e.g. gan -> gan_augmentation)."""
    spec = {k: v for k, v in arm_spec.items() if k not in _DISPLAY_KEYS}
    if arm.model == "mean_baseline":
        return {"arm": spec}
    if arm.model == "ridge_baseline":
        return {"arm": spec, "ridge": ridge}
    if arm.model == "embedding":  # the encoder is in the embeddings' content fingerprint (the record's inputs)
        probe = training["probe"]
        return {"arm": spec, "probe": probe["mlp"] if arm.probe == "mlp" else {"alphas": probe["alphas"]}}
    sections = {k: v for k, v in training.items() if k not in ("arms", "baselines", "augmentations", "probe")}
    sections["augmentations"] = {name: training["augmentations"][name] for name in arm.augmentations}
    dependencies = {"arm": spec, "training": sections}
    if arm.synthetic:
        dependencies.update({f"{arm.synthetic}_augmentation": generators[arm.synthetic], "generation": generation})
    return dependencies


def record_material(song_splits: dict[str, Any], seed: int, dependencies: dict[str, Any],
                    inputs: dict[str, str]) -> dict[str, Any]:
    """Everything a record's key is a hash of (stored in the record, so a reader can see why it was kept)."""
    return {"protocol": PROTOCOL_VERSION, "seed": int(seed),
            "songs": {part: [int(s) if isinstance(s, int | np.integer) else s for s in song_splits[part]]
                      for part in ("train", "val", "test")},
            "settings": dependencies, "inputs": inputs}


def record_key(material: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(material).encode()).hexdigest()[:24]


class UnitRecordStore:
    """A folder of records, `<unit>/<arm>/<key>.json` (+ `<key>.model/` when models are kept), on storage every
    worker sees. The catalog entry `experiment_unit_records` is the only place that names the folder."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"UnitRecordStore({str(self.path)!r})"

    def _file(self, unit: str, arm: str, key: str) -> Path:
        return self.path / unit / arm / f"{key}.json"

    def model_folder(self, unit: str, arm: str, key: str) -> Path:
        return self.path / unit / arm / f"{key}.model"

    def save_baseline(self, folder: Path, model: dict[str, Any]) -> None:
        """A baseline's few numbers as `<key>.model/baseline.json` (kept with `experiment.keep_models`)."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "baseline.json").write_text(json.dumps(model, default=json_default, sort_keys=True))

    def find(self, unit: str, arm: str, key: str, material: dict[str, Any]) -> UnitRecord | None:
        """The record of `key`, or None when there is none or it was written for other settings (then it is
        named in the log and retrained, never read)."""
        file = self._file(unit, arm, key)
        if not file.is_file():
            return None
        try:
            stored = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            logger.warning("experiment: unreadable record %s (%s); retraining %s in %s", file, exc, arm, unit)
            return None
        if problem := _record_problem(stored, json.loads(_canonical(material))):
            logger.warning("experiment: record %s %s; retraining %s in %s (delete the file to silence this)", file,
                           problem, arm, unit)
            return None
        predictions = pd.DataFrame(stored["predictions"]["data"], columns=stored["predictions"]["columns"])
        return UnitRecord(unit, arm, key, predictions, stored["facts"], resumed=True)

    def remove_stale_temporaries(self) -> int:
        """Delete the temporary files of record writes killed mid-write (their writer, a process of this machine,
        is gone); a live writer's file, or one from another machine, is left alone. Returns how many."""
        host = socket.gethostname().replace(".", "_")
        removed = 0
        for temporary in self.path.glob("*/*/.*.tmp"):
            writer = temporary.name.split(".")[2] if temporary.name.count(".") >= 3 else ""
            name, _, pid = writer.rpartition("-")
            if name == host and pid.isdigit() and not _alive(int(pid)):
                temporary.unlink(missing_ok=True)
                removed += 1
        if removed:
            logger.info("experiment: removed %d temporary file(s) of record writes that were killed", removed)
        return removed

    def save(self, record: UnitRecord, material: dict[str, Any]) -> Path:
        """Write `record` whole or not at all: a kill -9 mid-write leaves no half record behind."""
        file = self._file(record.unit, record.arm, record.key)
        file.parent.mkdir(parents=True, exist_ok=True)
        body = {"unit": record.unit, "arm": record.arm, "key": record.key, "material": json.loads(_canonical(material)),
                "facts": record.facts,
                "predictions": {"columns": list(record.predictions.columns),
                                "data": record.predictions.to_numpy(dtype=object).tolist()}}
        body = json.loads(json.dumps(body, default=json_default))  # exactly what a reader will see
        body["checksum"] = _checksum(body)
        handle, temporary = tempfile.mkstemp(dir=file.parent, prefix=f".{record.key}.{_writer()}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(body, out, default=json_default)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, file)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return file


def _writer() -> str:
    """Who writes a temporary file (host and process), so a later run can tell a dead writer's leftovers."""
    return f"{socket.gethostname().replace('.', '_')}-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _checksum(body: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in body.items() if k != "checksum"}).encode()).hexdigest()


def _record_problem(stored: Any, material: dict[str, Any]) -> str:
    """Why a stored record cannot be used (its words for the log), or "" when it is whole and is this key's."""
    if not isinstance(stored, dict) or "checksum" not in stored:
        return "carries no checksum (written by an older release, or not a record)"
    if stored["checksum"] != _checksum(stored):
        return "does not match its checksum: its content was changed after it was written"
    if stored.get("material") != material:
        return "was written for other settings than its key says"
    try:
        columns, rows = stored["predictions"]["columns"], stored["predictions"]["data"]
        songs = [str(row[columns.index("song_id")]) for row in rows]
    except (KeyError, TypeError, ValueError, IndexError):
        return "holds no readable prediction table"
    test = sorted(str(song) for song in material["songs"]["test"])
    if sorted(songs) != test:
        duplicated = sorted({s for s in songs if songs.count(s) > 1})
        return (f"holds {len(songs)} prediction rows for the fold's {len(test)} test songs"
                + (f" (song ids {duplicated[:5]} more than once)" if duplicated else ""))
    return ""


def _canonical(value: Any) -> str:
    return canonical_json(value)
