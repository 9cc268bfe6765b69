"""Nodes of `inference`: valence/arousal for the user's own audio with a trained ViT.

Preprocessing is read from the model (`config["extraction"]` and `config["input"]`), never
re-declared here, so a model trained on other mel settings or in `native` mode always gets the
input it was trained on. Files are read, never modified.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from music_emotion.audio import MelConfig, iter_windows, skip_reason
from music_emotion.datasets.audio_folder_dataset import relative_name
from music_emotion.models.song_prediction import predict_songs
from music_emotion.models.vit_regression import ViTForEmotionRegression
from music_emotion.runtime import progress_bar, resolve_device

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = ["file", "status", "reason", "segment", "segment_start_s", "padded", "valence", "arousal",
                      "file_valence", "file_arousal", "model"]
QUADRANTS = {  # (valence sign, arousal sign) -> Russell's circumplex quadrant
    (1, 1): "happy / excited",
    (-1, 1): "angry / tense",
    (-1, -1): "sad / depressed",
    (1, -1): "calm / relaxed",
}


def model_mel_config(model: ViTForEmotionRegression) -> MelConfig:
    """The extraction settings the model was trained with, from its own config."""
    extraction = model.config.get("extraction") or {}
    if not extraction:
        raise ValueError(
            "The loaded vit_model stores no extraction settings, so its input cannot be reproduced; "
            "retrain it with `kedro run --pipelines vit_training`"
        )
    return MelConfig(**extraction)


def _file_chunks(path: str, config: MelConfig, min_fraction: float) -> tuple[list[float], np.ndarray, list[bool], list[int]] | str:
    """Every stored-span chunk of one file (spectrograms, padded flags, real frames), or why it cannot be read."""
    try:
        chunks = list(iter_windows(path, config, min_fraction))
    except Exception as exc:  # noqa: BLE001 - one bad file never costs the run: it is reported with its reason
        return skip_reason(exc)
    return ([c[0] for c in chunks], np.stack([c[1] for c in chunks]), [c[2] for c in chunks], [c[3] for c in chunks])


def predict_audio_files(
    audio_files: dict[str, str], vit_model: ViTForEmotionRegression, params: dict[str, Any], device: str
) -> pd.DataFrame:
    """One row per model window of every file (with the file's mean over all its windows), one per skipped file.

    A file is cut into chunks of the stored span the model was trained on (`extraction.duration`), and each
    chunk into the model's windows (`window_frames`, `window_stride` apart) exactly as validation and test
    songs are: the same `predict_songs` code path. A last partial chunk is kept when it holds at least
    `min_window_fraction` of a chunk and, like a file shorter than one chunk, is padded as in training.
    """
    from joblib import Parallel, delayed

    if not audio_files:
        raise ValueError(
            "The inference folder holds no audio file (.mp3, .wav, .flac, .ogg). Put your songs in "
            "data/01_raw/my_music/ or point at another folder with --params inference.input_dir=/path/to/folder"
        )
    config = model_mel_config(vit_model)
    torch_device = resolve_device(device)
    seconds_per_frame = config.hop_length / config.sample_rate
    names = list(audio_files)
    rows: list[dict[str, Any]] = []
    chunk = int(params["files_per_chunk"])
    progress = progress_bar(total=len(names), desc="inference", unit="file")
    with Parallel(n_jobs=params["n_jobs"]) as parallel:
        for start in range(0, len(names), chunk):  # bounded memory: a chunk of files at a time
            batch_names = names[start : start + chunk]
            decoded = parallel(delayed(_file_chunks)(audio_files[n], config, params["min_window_fraction"])
                               for n in batch_names)
            for name, result in zip(batch_names, decoded, strict=True):
                file_name = relative_name(audio_files, audio_files[name])
                if isinstance(result, str):
                    logger.warning("Skipped %s: %s", file_name, result)
                    rows.append({"file": file_name, "status": "skipped", "reason": result})
                    continue
                chunk_starts, spectrograms, padded, valid = result
                predicted = predict_songs(vit_model, spectrograms, np.arange(len(spectrograms)), np.asarray(valid),
                                          int(params["batch_size"]), torch_device)
                file_mean = predicted.windows.mean(axis=0)
                for k, (song, frame, pred) in enumerate(zip(predicted.window_song, predicted.window_start,
                                                            predicted.windows, strict=True)):
                    short = bool(padded[song]) and valid[song] < vit_model.window_frames
                    rows.append({
                        "file": file_name, "status": "padded" if short else "ok", "reason": "",
                        "segment": k, "segment_start_s": round(chunk_starts[song] + frame * seconds_per_frame, 3),
                        "padded": short, "valence": float(pred[0]), "arousal": float(pred[1]),
                        "file_valence": float(file_mean[0]), "file_arousal": float(file_mean[1]),
                    })
            progress.update(len(batch_names))
    progress.close()
    table = pd.DataFrame(rows).reindex(columns=PREDICTION_COLUMNS)
    table["file"] = table["file"].map(spreadsheet_safe)  # file names are the user's: never formulas in a CSV
    table["model"] = params["model"]
    n_skipped = int((table["status"] == "skipped").sum())
    logger.info("Predicted %d file(s) in %d window(s); %d skipped",
                table.loc[table["status"] != "skipped", "file"].nunique(), int((table["status"] != "skipped").sum()), n_skipped)
    if n_skipped == len(names):
        raise ValueError(f"None of the {len(names)} file(s) could be decoded as audio; reasons: "
                         f"{table['reason'].value_counts().to_dict()}")
    return table


def spreadsheet_safe(text: Any) -> Any:
    """A cell that starts with =, +, - or @ gets a leading apostrophe, so spreadsheets show it instead of
    executing it (e.g. a file named `=HYPERLINK(...).mp3`); other values are returned unchanged."""
    return "'" + text if isinstance(text, str) and text[:1] in ("=", "+", "-", "@") else text


def quadrant_of(valence: float, arousal: float) -> str:
    return QUADRANTS[(1 if valence >= 0 else -1, 1 if arousal >= 0 else -1)]


def plot_va_plane(inference_predictions: pd.DataFrame, params: dict[str, Any]) -> Figure:
    """Each file's mean valence/arousal in the circumplex plane, named (numbered beyond `max_labels` files),
    with the four quadrant labels; drawn like every other figure of the project (`reporting.figures`)."""
    from music_emotion.pipelines.reporting import figures

    files = (inference_predictions[inference_predictions["status"] != "skipped"]
             .groupby("file", sort=True)[["file_valence", "file_arousal"]].first())
    model = inference_predictions["model"].dropna().unique()
    return figures.inference_va_figure(files, QUADRANTS, str(model[0]) if len(model) else None,
                                       int(params["max_labels"]), int(params["max_label_chars"]), int(params["dpi"]))
