"""Nodes of `reporting`: every result of the run as a figure, a table, and one archive.

Figure nodes return matplotlib `Figure`s (drawn in `figures.py` on an Agg canvas); the catalog
saves them as versioned PNGs. `summarise_metrics` turns `test_metrics`, `gan_quality` and the
split sizes into one tidy CSV and one markdown report. `build_report_archive` packs catalog
entries (figures, tables, metrics, model weights) into the members of one zip.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from music_emotion.data import TARGETS
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.data.splits import SPLITS, split_ids
from music_emotion.data.tables import require_columns, rerun
from music_emotion.report.figure_style import figure_style_of
from music_emotion.report.figures import results as figures
from music_emotion.report.figures import spectrograms as spectrogram_figures
from music_emotion.study.arms import GENERATED

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = ["song_id", "model", "valence_true", "arousal_true", "valence_pred", "arousal_pred"]


def _labels_by_id(emotion_labels: pd.DataFrame) -> pd.DataFrame:
    require_columns(emotion_labels, ["song_id", *TARGETS], "emotion_labels", rerun("data_processing"))
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
    return spectrogram_figures.spectrogram_examples_figure(
        mel_spectrograms, labels.reset_index(), chosen, dpi=int(params["dpi"])
    )


def plot_real_vs_synthetic(
    mel_spectrograms: SpectrogramSet,
    emotion_labels: pd.DataFrame,
    song_splits: Mapping[str, Any],
    params: Mapping[str, Any],
    **generated: Any,
) -> Figure:
    """Real train songs next to each generator's sample generated for the nearest (valence, arousal).

    `generated` holds `<generator>_spectrograms` and `<generator>_labels` for every reported generator (`gan`,
    `diffusion`), so the figure shows whichever generators the run has."""
    sets = {}
    for generator in [key.removesuffix("_labels") for key in generated if key.endswith("_labels")]:
        name = GENERATED[generator].labels
        synthetic_labels = generated[f"{generator}_labels"]
        require_columns(synthetic_labels, ["sample_id", *TARGETS], name, rerun(f"{generator}_augmentation"))
        if len(synthetic_labels) == 0:
            raise ValueError(f"'{name}' is empty: the {generator} generator generated nothing; check "
                             "gan_augmentation.generation.n_synthetic")
        sets[generator] = (generated[f"{generator}_spectrograms"], synthetic_labels)
    labels = _labels_by_id(emotion_labels)
    train = [i for i in split_ids(song_splits, "train", allow_empty=True) if i in labels.index]
    chosen = pick_spread_ids(labels.loc[train, list(TARGETS)], int(params["n_real_vs_synthetic"]),
                             float(params["anchor_radius"]))
    partners = [nearest_synthetic(labels.loc[chosen, list(TARGETS)], synthetic_labels)
                for _, synthetic_labels in sets.values()]
    return spectrogram_figures.real_vs_synthetic_figure(
        mel_spectrograms, labels.reset_index(), sets, list(zip(chosen, zip(*partners, strict=True), strict=True)),
        dpi=int(params["dpi"]),
    )


# The columns each generator family's training history must have for its row of `generator_training_curves`.
HISTORY_COLUMNS = {"gan": ["epoch", "generator_loss", "discriminator_loss"], "diffusion": ["step", "flow_loss"]}


def plot_generator_training_curves(params: Mapping[str, Any], **histories: pd.DataFrame) -> Figure:
    """Per generator (keyword = family, value = its history): losses per evaluation; the GAN's also its auxiliary
    MSEs, conditioning CCC and Fréchet ratio, and which step was kept."""
    for generator, history in histories.items():
        require_columns(history, HISTORY_COLUMNS[generator], GENERATED[generator].history,
                        rerun(f"{generator}_augmentation"))
    return figures.generator_training_curves_figure(histories, dpi=int(params["dpi"]))


def plot_augmented_dataset_comparison(
    emotion_labels: pd.DataFrame,
    song_splits: Mapping[str, Any],
    synthetic_labels: pd.DataFrame,
    params: Mapping[str, Any],
) -> Figure:
    """Do the synthetic labels cover the emotions of the real training songs, and by how much do they grow it?"""
    require_columns(synthetic_labels, ["sample_id", *TARGETS], "synthetic_labels", rerun("gan_augmentation"))
    labels = _labels_by_id(emotion_labels)
    train = [i for i in split_ids(song_splits, "train", allow_empty=True) if i in labels.index]
    counts = {split: len(song_splits.get(split, [])) for split in SPLITS}
    return spectrogram_figures.augmented_dataset_figure(
        labels.loc[train, list(TARGETS)], synthetic_labels, counts, params["style"], dpi=int(params["dpi"])
    )


def plot_training_curves(params: Mapping[str, Any], arms: Mapping[str, Any], **histories: pd.DataFrame) -> Figure:
    """Training loss and song-level validation curves of every ViT and AST arm on shared axes."""
    if not histories:
        raise ValueError("no ViT or AST arm in `arms`: there are no training curves to plot")
    for name, history in histories.items():
        require_columns(history, ["epoch", "train_loss", "val_loss"], f"{name}.training_history", rerun("training"))
    return figures.training_curves_figure(histories, figure_style_of(params, arms), dpi=int(params["dpi"]))


def _checked_predictions(test_predictions: pd.DataFrame) -> pd.DataFrame:
    require_columns(test_predictions, PREDICTION_COLUMNS, "test_predictions", rerun("training"))
    if test_predictions.empty:
        raise ValueError("'test_predictions' is empty; re-run training (is the test split empty?)")
    return test_predictions


def plot_prediction_scatter(
    test_predictions: pd.DataFrame, params: Mapping[str, Any], arms: Mapping[str, Any]
) -> Figure:
    """Predicted vs true per target and model on the test set (a flat cloud = the mean baseline)."""
    return figures.prediction_scatter_figure(_checked_predictions(test_predictions), figure_style_of(params, arms),
                                             dpi=int(params["dpi"]))


def plot_va_space_comparison(
    test_predictions: pd.DataFrame, params: Mapping[str, Any], arms: Mapping[str, Any]
) -> Figure:
    """True vs predicted test songs in the 2-D emotion plane: shows shrinkage towards the centre."""
    return figures.va_space_figure(_checked_predictions(test_predictions), figure_style_of(params, arms),
                                   dpi=int(params["dpi"]))


