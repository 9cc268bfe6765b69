"""The report archive: a run's figures, tables, metrics and model weights as the members of one zip, with a
MANIFEST of versions and hashes, refusing models and metrics that come from different runs."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from music_emotion.jsonable import json_default
from music_emotion.study.lineage import require_same

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------ archive
def _image_suffix(content: bytes) -> str:
    if content.startswith(b"\x89PNG"):
        return ".png"
    if content.startswith(b"%PDF"):
        return ".pdf"
    if content.lstrip().startswith((b"<?xml", b"<svg")):
        return ".svg"
    if content.startswith(b"\xff\xd8"):
        return ".jpg"
    return ".bin"


def _model_files(model: Any) -> dict[str, bytes]:
    """A project model as the files `save_pretrained` writes (config.json, model.safetensors)."""
    with tempfile.TemporaryDirectory(prefix="report_archive_") as directory:
        model.save_pretrained(directory)
        root = Path(directory)
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def archive_members(name: str, artefact: Any, model_weights: bool) -> dict[str, bytes]:
    """Archive member(s) for one catalog entry; its Python type decides the folder and format.

    Figures (image bytes) -> figures/, markdown (str) and tables (DataFrame) -> tables/,
    dicts -> metrics/ (JSON), models (`save_pretrained`) -> models/<name>/: with `model_weights` the weights
    themselves, else the config and a `weights.json` naming the weights' size and SHA-256 (a ViT-B/16 is 343 MB:
    five arms would make every DEAM archive 1.7 GB of copies of data/06_models).
    Namespaced names (`real_only.trained_model`) become sub-folders.
    """
    stem = name.replace(".", "/")
    if hasattr(artefact, "save_pretrained"):
        files = _model_files(artefact)
        if not model_weights:
            weights = {file: content for file, content in files.items() if file.endswith(".safetensors")}
            reference = {"archived": False, "why": "reporting.archive_model_weights is false", "catalog_entry": name,
                         **{file: {"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
                            for file, content in weights.items()}}
            files = {file: content for file, content in files.items() if file not in weights}
            files["weights.json"] = json.dumps(reference, indent=2).encode()
        return {f"models/{stem}/{file}": content for file, content in files.items()}
    if isinstance(artefact, bytes | bytearray):
        return {f"figures/{stem}{_image_suffix(bytes(artefact))}": bytes(artefact)}
    if isinstance(artefact, str):
        return {f"tables/{stem}.md": artefact.encode("utf-8")}
    if isinstance(artefact, pd.DataFrame):
        buffer = io.StringIO()
        artefact.to_csv(buffer, index=False)
        return {f"tables/{stem}.csv": buffer.getvalue().encode("utf-8")}
    if isinstance(artefact, Mapping):
        text = json.dumps(artefact, indent=2, default=json_default)
        return {f"metrics/{stem}.json": text.encode("utf-8")}
    raise TypeError(
        f"Cannot put catalog entry '{name}' ({type(artefact).__name__}) in the report archive: "
        "expected image bytes, markdown, a DataFrame, a dict or a model with save_pretrained"
    )


def check_report_lineage(artefacts: Mapping[str, Any]) -> None:
    """Refuse to archive models, metrics and GAN outputs that come from different runs (see `lineage.py`).

    `artefacts` maps catalog names to loaded values: every `<arm>.*model` must be the model `test_metrics`
    scored (an embedding arm's probe numbers: those its scored model was built of), on the same split, and
    `gan_quality` must describe the archived generator.
    """
    recorded, actual = {}, {}
    for arm, report in artefacts.get("test_metrics", {}).items():
        lineage = report.get("lineage", {}) if isinstance(report, Mapping) else {}
        models = [n for n in artefacts if n.startswith(f"{arm}.") and n.endswith("model")]
        scored = [n for n in models if n.endswith(".trained_model")] or models
        for name in scored:
            recorded[name], actual[name] = lineage.get("model"), artefacts[name]
        for name in set(models) - set(scored):  # an embedding probe's numbers: the ones its served model was built of
            probe = artefacts[scored[0]].config.get("probe") or {}
            recorded[name], actual[name] = probe.get("fitted_from"), artefacts[name]
        if "song_splits" in artefacts:
            recorded["song_splits"], actual["song_splits"] = lineage.get("song_splits"), artefacts["song_splits"]
    fix = ("Re-run the pipelines whose outputs are older (`kedro run` runs them all), or pin one consistent set "
           "with `--load-versions`.")
    require_same("report_archive", "test_metrics", recorded, actual, fix)
    if "gan_quality" in artefacts and "generator" in artefacts:
        generator = artefacts["gan_quality"].get("lineage", {}).get("generator")
        require_same("report_archive", "gan_quality", {"generator": generator},
                     {"generator": artefacts["generator"]}, fix)


def build_report_archive(run_lineage: Mapping[str, Any], *, model_weights: bool, **artefacts: Any) -> dict[str, bytes]:
    """The run's figures, tables, metrics and models (weights, or their hashes: `model_weights`) as
    `{member path: bytes}` for one zip.

    Keyword names are catalog names with "." written as "__" (see `pipeline.py`). `MANIFEST.json` lists
    every member with its source entry, that entry's catalog version, size and SHA-256, and the run that
    built the archive (`run_lineage`, filled in by `hooks.LineageHook`). Outputs of different runs are
    refused (`check_report_lineage`).
    """
    named = {keyword.replace("__", "."): artefact for keyword, artefact in artefacts.items()}
    check_report_lineage(named)
    versions = run_lineage.get("input_versions", {})
    members: dict[str, bytes] = {}
    manifest: dict[str, Any] = {"run": run_lineage.get("run"), "members": {}}
    for name in sorted(named):
        for member, content in archive_members(name, named[name], model_weights).items():
            if member in members:
                raise ValueError(f"Two catalog entries map to archive member '{member}'")
            members[member] = content
            manifest["members"][member] = {"source": name, "version": versions.get(name), "bytes": len(content),
                                           "sha256": hashlib.sha256(content).hexdigest()}
    members["MANIFEST.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
    total = sum(len(c) for c in members.values())
    logger.info("Report archive: %d members, %.1f MB before compression", len(members), total / 1e6)
    return members
