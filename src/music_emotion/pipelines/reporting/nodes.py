"""Nodes of `reporting`: every result of the run as a figure, a table, and one archive.

Figure nodes return matplotlib `Figure`s (drawn in `figures.py` on an Agg canvas); the catalog
saves them as versioned PNGs. `summarise_metrics` turns `test_metrics`, `gan_quality` and the
split sizes into one tidy CSV and one markdown report. `build_report_archive` packs catalog
entries (figures, tables, metrics, model weights) into the members of one zip.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from music_emotion.arms import arm_style
from music_emotion.lineage import require_same
from music_emotion.metrics import TARGETS, flatten_numeric
from music_emotion.pipelines.reporting import figures
from music_emotion.spectrograms import SpectrogramSet
from music_emotion.splits import SPLITS, split_ids

logger = logging.getLogger(__name__)

METRIC_LABELS = {"ccc": "CCC", "pearson": "r", "r2": "R²", "rmse": "RMSE", "mae": "MAE"}
PREDICTION_COLUMNS = ["song_id", "model", "valence_true", "arousal_true", "valence_pred", "arousal_pred"]
SUMMARY_COLUMNS = ["section", "name", "target", "metric", "value", "ci_low", "ci_high", "n_songs"]


# ------------------------------------------------------------------------------ validation
def _require_columns(table: pd.DataFrame, columns: Sequence[str], dataset: str, producer: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"'{dataset}' lacks column(s) {missing} (it has {list(table.columns)}); "
            f"re-run the `{producer}` pipeline that writes it"
        )


def _labels_by_id(emotion_labels: pd.DataFrame) -> pd.DataFrame:
    _require_columns(emotion_labels, ["song_id", *TARGETS], "emotion_labels", "data_processing")
    return emotion_labels.drop_duplicates("song_id").set_index("song_id")


# ------------------------------------------------------------------------- example choice
def _anchors(n: int, radius: float) -> np.ndarray:
    """`n` points on a circle in the valence/arousal plane, the first in the (+, +) quadrant."""
    angles = np.deg2rad(45.0 + 360.0 * np.arange(n) / max(n, 1))
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def pick_spread_ids(candidates: pd.DataFrame, n: int, radius: float) -> list:
    """Distinct ids nearest to `n` anchors around the V/A plane: examples that span the emotions.

    `candidates` is indexed by id with valence/arousal columns; ties go to the smaller id, so the
    choice depends on the data only.
    """
    pool = candidates.sort_index()
    chosen: list = []
    for anchor in _anchors(min(n, len(pool)), radius):
        remaining = pool.drop(index=chosen)
        distance = np.hypot(remaining["valence"] - anchor[0], remaining["arousal"] - anchor[1])
        chosen.append(distance.idxmin())
    return chosen


def nearest_synthetic(real_points: pd.DataFrame, synthetic_labels: pd.DataFrame) -> list:
    """For each real (valence, arousal) row, the synthetic sample whose condition is nearest (distinct)."""
    pool = synthetic_labels.set_index("sample_id")[list(TARGETS)].sort_index()
    chosen: list = []
    for _, point in real_points.iterrows():
        remaining = pool.drop(index=chosen) if len(chosen) < len(pool) else pool
        distance = np.hypot(remaining["valence"] - point["valence"], remaining["arousal"] - point["arousal"])
        chosen.append(distance.idxmin())
    return chosen


# ------------------------------------------------------------------------------------ figures
def plot_spectrogram_examples(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: Mapping[str, Any],
    params: Mapping[str, Any],
) -> Figure:
    """A few real spectrograms spread over the emotion plane, to see what the models are fed."""
    labels = _labels_by_id(emotion_labels)
    ids = [i for split in SPLITS for i in song_splits.get(split, [])]
    candidates = labels.loc[[i for i in ids if i in labels.index], list(TARGETS)]
    if candidates.empty:
        raise ValueError("No song in 'song_splits' has a label in 'emotion_labels'; re-run data_processing")
    chosen = pick_spread_ids(candidates, int(params["n_spectrogram_examples"]), float(params["anchor_radius"]))
    return figures.spectrogram_examples_figure(
        mel_spectrograms, labels.reset_index(), chosen, dpi=int(params["dpi"])
    )


def plot_real_vs_synthetic(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: Mapping[str, Any],
    synthetic_spectrograms: SpectrogramSet,
    synthetic_labels: pd.DataFrame,
    params: Mapping[str, Any],
) -> Figure:
    """Real train songs next to synthetic samples generated for the nearest (valence, arousal)."""
    _require_columns(synthetic_labels, ["sample_id", *TARGETS], "synthetic_labels", "gan_augmentation")
    if len(synthetic_labels) == 0:
        raise ValueError("'synthetic_labels' is empty: the GAN generated nothing; check gan_augmentation.n_synthetic")
    labels = _labels_by_id(emotion_labels)
    train = [i for i in split_ids(song_splits, "train", allow_empty=True) if i in labels.index]
    chosen = pick_spread_ids(labels.loc[train, list(TARGETS)], int(params["n_real_vs_synthetic"]),
                             float(params["anchor_radius"]))
    partners = nearest_synthetic(labels.loc[chosen, list(TARGETS)], synthetic_labels)
    return figures.real_vs_synthetic_figure(
        mel_spectrograms, labels.reset_index(), synthetic_spectrograms, synthetic_labels,
        list(zip(chosen, partners, strict=True)), dpi=int(params["dpi"]),
    )


def plot_gan_training_curves(gan_history: pd.DataFrame, params: Mapping[str, Any]) -> Figure:
    """Losses, auxiliary MSEs, conditioning CCC and Fréchet ratio per evaluation: whether the samples came to
    carry their labels, and which step was kept."""
    _require_columns(gan_history, ["epoch", "generator_loss", "discriminator_loss"], "gan_history", "gan_augmentation")
    return figures.gan_training_curves_figure(gan_history, dpi=int(params["dpi"]))


def _style(params: Mapping[str, Any], arms: Mapping[str, Any]) -> dict[str, Any]:
    """Reporting style (real/synthetic colours) + each arm's label and colour from the `arms` map."""
    return {**params["style"], **arm_style(arms)}


def plot_augmented_dataset_comparison(
    emotion_labels: pd.DataFrame,
    song_splits: Mapping[str, Any],
    synthetic_labels: pd.DataFrame,
    params: Mapping[str, Any],
) -> Figure:
    """Do the synthetic labels cover the emotions of the real training songs, and by how much do they grow it?"""
    _require_columns(synthetic_labels, ["sample_id", *TARGETS], "synthetic_labels", "gan_augmentation")
    labels = _labels_by_id(emotion_labels)
    train = [i for i in split_ids(song_splits, "train", allow_empty=True) if i in labels.index]
    counts = {split: len(song_splits.get(split, [])) for split in SPLITS}
    return figures.augmented_dataset_figure(
        labels.loc[train, list(TARGETS)], synthetic_labels, counts, params["style"], dpi=int(params["dpi"])
    )


def plot_vit_training_curves(params: Mapping[str, Any], arms: Mapping[str, Any], **histories: pd.DataFrame) -> Figure:
    """Training loss and song-level validation curves of every ViT and AST arm on shared axes."""
    if not histories:
        raise ValueError("no ViT or AST arm in `arms`: there are no training curves to plot")
    for name, history in histories.items():
        _require_columns(history, ["epoch", "train_loss", "val_loss"], f"{name}.vit_history", "vit_training")
    return figures.vit_training_curves_figure(histories, _style(params, arms), dpi=int(params["dpi"]))


def plot_experiment_deltas(
    experiment_comparison: pd.DataFrame, params: Mapping[str, Any], arms: Mapping[str, Any]
) -> Figure:
    """Every arm's paired CCC difference from the reference arm, with its CI and p-value."""
    _require_columns(experiment_comparison, ["arm", "target", "metric", "mean_difference", "ci_low", "ci_high",
                                             "p_value"], "experiment_comparison", "experiment")
    return figures.experiment_deltas_figure(experiment_comparison, _style(params, arms), dpi=int(params["dpi"]))


def _checked_predictions(test_predictions: pd.DataFrame) -> pd.DataFrame:
    _require_columns(test_predictions, PREDICTION_COLUMNS, "test_predictions", "vit_training")
    if test_predictions.empty:
        raise ValueError("'test_predictions' is empty; re-run vit_training (is the test split empty?)")
    return test_predictions


def plot_prediction_scatter(
    test_predictions: pd.DataFrame, params: Mapping[str, Any], arms: Mapping[str, Any]
) -> Figure:
    """Predicted vs true per target and model on the test set (a flat cloud = the mean baseline)."""
    return figures.prediction_scatter_figure(_checked_predictions(test_predictions), _style(params, arms),
                                             dpi=int(params["dpi"]))


def plot_va_space_comparison(
    test_predictions: pd.DataFrame, params: Mapping[str, Any], arms: Mapping[str, Any]
) -> Figure:
    """True vs predicted test songs in the 2-D emotion plane: shows shrinkage towards the centre."""
    return figures.va_space_figure(_checked_predictions(test_predictions), _style(params, arms),
                                   dpi=int(params["dpi"]))


# -------------------------------------------------------------------------------------- tables
def _format_number(value: Any, decimals: int, small_as_scientific: bool = True) -> str:
    """Fixed decimals; huge values, and tiny non-zero ones unless told otherwise, in scientific notation."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    value = float(value)
    tiny = abs(value) < 10 ** (-decimals)
    if value != 0 and (abs(value) >= 10 ** (decimals + 2) or (tiny and small_as_scientific)):
        return f"{value:.{decimals}g}"
    if tiny:
        value = 0.0  # rounding noise such as -3e-33 reads as 0.000, not -0.000
    return f"{value:.{decimals}f}"


def format_with_ci(value: Any, low: Any, high: Any, decimals: int = 3, small_as_scientific: bool = True) -> str:
    """`0.512 [0.401, 0.603]`; the interval is left out when it is unknown."""
    point = _format_number(value, decimals, small_as_scientific)
    if low is None or high is None:
        return point
    low_text = _format_number(low, decimals, small_as_scientific)
    high_text = _format_number(high, decimals, small_as_scientific)
    return f"{point} [{low_text}, {high_text}]"


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _metric_rows(test_metrics: Mapping[str, Any], model_order: Sequence[str]) -> list[dict[str, Any]]:
    if not isinstance(test_metrics, Mapping) or not test_metrics:
        raise ValueError("'test_metrics' is empty or not a dict of models; re-run vit_training")
    rows = []
    for model in figures.order_models(list(test_metrics), {"model_order": model_order}):
        report = test_metrics[model]
        for target in TARGETS:
            if target not in report:
                raise ValueError(f"'test_metrics[{model!r}]' has no '{target}' block; re-run vit_training")
            for metric in METRIC_LABELS:
                entry = report[target].get(metric)
                if entry is None:
                    raise ValueError(
                        f"'test_metrics[{model!r}][{target!r}]' lacks metric '{metric}'; re-run vit_training"
                    )
                rows.append({
                    "section": "test_metrics", "name": model, "target": target, "metric": metric,
                    "value": entry["value"], "ci_low": entry.get("ci_low"), "ci_high": entry.get("ci_high"),
                    "n_songs": report.get("n_songs"),
                })
    return rows


def _dataset_rows(song_splits: Mapping[str, Any], synthetic_labels: pd.DataFrame) -> list[dict[str, Any]]:
    counts = {split: len(song_splits.get(split, [])) for split in SPLITS}
    n_synthetic = len(synthetic_labels)
    expansion = (counts["train"] + n_synthetic) / counts["train"] if counts["train"] else float("nan")
    figures_ = [
        ("real songs: train", counts["train"]),
        ("real songs: val", counts["val"]),
        ("real songs: test", counts["test"]),
        ("real songs: total", sum(counts.values())),
        ("synthetic spectrograms (train only)", n_synthetic),
        ("augmented train set", counts["train"] + n_synthetic),
        ("train expansion factor", expansion),
    ]
    return [
        {"section": "dataset", "name": name, "target": None, "metric": "count" if "factor" not in name else "ratio",
         "value": value, "ci_low": None, "ci_high": None, "n_songs": None}
        for name, value in figures_
    ]


def summarise_metrics(
    test_metrics: Mapping[str, Any],
    gan_quality: Mapping[str, Any],
    song_splits: Mapping[str, Any],
    synthetic_labels: pd.DataFrame,
    params: Mapping[str, Any],
    arms: Mapping[str, Any],
) -> tuple[pd.DataFrame, str]:
    """One tidy table (CSV) and one markdown report of every number the run produced.

    Test metrics per model and target with 95 % bootstrap intervals, every scalar of `gan_quality`,
    and the dataset counts. The markdown puts the test metrics in one row per model and target.
    """
    decimals = int(params["decimals"])
    model_order = list(arms)
    gan_labels = params["gan_quality_labels"]
    metric_rows = _metric_rows(test_metrics, model_order)
    gan_rows = [
        {"section": "gan_quality", "name": key, "target": None, "metric": None,
         "value": value, "ci_low": low, "ci_high": high, "n_songs": None}
        for key, value, low, high in flatten_numeric(gan_quality)
    ]
    dataset_rows = _dataset_rows(song_splits, synthetic_labels)
    table = pd.DataFrame(metric_rows + gan_rows + dataset_rows, columns=SUMMARY_COLUMNS)
    # Mixed leaves (numbers, flags, short strings) stay readable in one CSV column.
    table["value"] = table["value"].astype(object)

    metrics_table = []
    for (model, target), group in pd.DataFrame(metric_rows).groupby(["name", "target"], sort=False):
        by_metric = group.set_index("metric")
        metrics_table.append(
            [model, target, _format_number(group["n_songs"].iloc[0], decimals)]
            + [format_with_ci(by_metric.loc[m, "value"], by_metric.loc[m, "ci_low"], by_metric.loc[m, "ci_high"],
                              decimals, small_as_scientific=False) for m in METRIC_LABELS]
        )
    lines = [
        "# Results",
        "",
        "## Test-set metrics",
        "",
        "Each cell: value on the test songs [95 % bootstrap confidence interval, songs resampled]. "
        "CCC = Lin's concordance correlation, r = Pearson correlation, R² = coefficient of determination, "
        "RMSE / MAE on the [-1, 1] valence/arousal scale.",
        "",
        _markdown_table(["model", "target", "n songs", *METRIC_LABELS.values()], metrics_table),
        "",
        "## GAN quality",
        "",
        "Figures from `gan_quality` (features: pooled mel statistics; see the gan_augmentation docs).",
        "",
        _markdown_table(
            ["figure", "value"],
            [[gan_labels.get(r["name"], r["name"]),
              r["value"] if isinstance(r["value"], str) else format_with_ci(r["value"], r["ci_low"], r["ci_high"], decimals)]
             for r in gan_rows] or [["(gan_quality holds no scalar figures)", "n/a"]],
        ),
        "",
        "## Dataset",
        "",
        _markdown_table(["count", "value"], [[r["name"], _format_number(r["value"], decimals)] for r in dataset_rows]),
        "",
    ]
    logger.info("Metrics summary: %d models, %d GAN figures", len(metrics_table) // len(TARGETS), len(gan_rows))
    return table, "\n".join(lines)


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


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def archive_members(name: str, artefact: Any) -> dict[str, bytes]:
    """Archive member(s) for one catalog entry; its Python type decides the folder and format.

    Figures (image bytes) -> figures/, markdown (str) and tables (DataFrame) -> tables/,
    dicts -> metrics/ (JSON), models (`save_pretrained`) -> models/<name>/.
    Namespaced names (`real_only.vit_model`) become sub-folders.
    """
    stem = name.replace(".", "/")
    if hasattr(artefact, "save_pretrained"):
        return {f"models/{stem}/{file}": content for file, content in _model_files(artefact).items()}
    if isinstance(artefact, bytes | bytearray):
        return {f"figures/{stem}{_image_suffix(bytes(artefact))}": bytes(artefact)}
    if isinstance(artefact, str):
        return {f"tables/{stem}.md": artefact.encode("utf-8")}
    if isinstance(artefact, pd.DataFrame):
        buffer = io.StringIO()
        artefact.to_csv(buffer, index=False)
        return {f"tables/{stem}.csv": buffer.getvalue().encode("utf-8")}
    if isinstance(artefact, Mapping):
        text = json.dumps(artefact, indent=2, default=_json_default)
        return {f"metrics/{stem}.json": text.encode("utf-8")}
    raise TypeError(
        f"Cannot put catalog entry '{name}' ({type(artefact).__name__}) in the report archive: "
        "expected image bytes, markdown, a DataFrame, a dict or a model with save_pretrained"
    )


def check_report_lineage(artefacts: Mapping[str, Any]) -> None:
    """Refuse to archive models, metrics and GAN outputs that come from different runs (see `lineage.py`).

    `artefacts` maps catalog names to loaded values: every `<arm>.*model` must be the model `test_metrics`
    scored, on the same split, and `gan_quality` must describe the archived generator.
    """
    recorded, actual = {}, {}
    for arm, report in artefacts.get("test_metrics", {}).items():
        lineage = report.get("lineage", {}) if isinstance(report, Mapping) else {}
        for name in (n for n in artefacts if n.startswith(f"{arm}.") and n.endswith("model")):
            recorded[name], actual[name] = lineage.get("model"), artefacts[name]
        if "song_splits" in artefacts:
            recorded["song_splits"], actual["song_splits"] = lineage.get("song_splits"), artefacts["song_splits"]
    fix = ("Re-run the pipelines whose outputs are older (`kedro run` runs them all), or pin one consistent set "
           "with `--load-versions`.")
    require_same("report_archive", "test_metrics", recorded, actual, fix)
    if "gan_quality" in artefacts and "generator" in artefacts:
        generator = artefacts["gan_quality"].get("lineage", {}).get("generator")
        require_same("report_archive", "gan_quality", {"generator": generator},
                     {"generator": artefacts["generator"]}, fix)


def build_report_archive(run_lineage: Mapping[str, Any], **artefacts: Any) -> dict[str, bytes]:
    """The run's figures, tables, metrics and model weights as `{member path: bytes}` for one zip.

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
        for member, content in archive_members(name, named[name]).items():
            if member in members:
                raise ValueError(f"Two catalog entries map to archive member '{member}'")
            members[member] = content
            manifest["members"][member] = {"source": name, "version": versions.get(name), "bytes": len(content),
                                           "sha256": hashlib.sha256(content).hexdigest()}
    members["MANIFEST.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
    total = sum(len(c) for c in members.values())
    logger.info("Report archive: %d members, %.1f MB before compression", len(members), total / 1e6)
    return members
