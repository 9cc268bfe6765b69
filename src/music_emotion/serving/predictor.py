"""`EmotionModel`: how a song feels, from Python, in three lines.

    from music_emotion import EmotionModel
    model = EmotionModel.from_pretrained("my_model")      # an exported folder, or a hub id (owner/name)
    song = model.predict("song.mp3")                       # song.valence, song.arousal in [-1, 1], song.windows

Every file goes through the inference pipeline's own loop, `file_prediction.predict_batches` (`decode_file` on the
engine — this process, or Dask for many files — then `batch_rows` through `predict_songs`), so the numbers equal the
pipeline's, the `music-emotion` command's and the page's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from music_emotion.audio.engine import EngineParams, FileEngine, whole_files_seconds
from music_emotion.serving.file_prediction import (
    WINDOW_COLUMNS,
    model_feature_config,
    predict_batches,
    quadrant_of,
)
from music_emotion.serving.model_folder import (
    PredictionSettings,
    read_settings,
    resolve_model_folder,
)

SCALES = ("unit", "deam")  # [-1, 1], or the training labels' rating scale (DEAM: 1-9)
# One process unless asked: a library call never starts a cluster behind the caller's back.
ONE_PROCESS = EngineParams(engine="single", scheduler_address=None, n_workers=None, connect_timeout_s=5.0,
                           min_audio_seconds=0.0)


@dataclass(frozen=True)
class SongEmotion:
    """One file's prediction: the mean over its windows, and the per-window curve (`windows`: start_s, valence,
    arousal). `status` is `ok`, `padded` (shorter than one window) or `skipped` (with `reason`; values NaN)."""

    file: str
    valence: float
    arousal: float
    quadrant: str
    n_windows: int
    status: str
    reason: str = ""
    windows: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["start_s", "valence", "arousal"]))


class EmotionModel:
    """A trained arm with the settings it predicts with. Build it with `from_pretrained`, or from a loaded model."""

    def __init__(self, model: Any, settings: PredictionSettings, name: str = "", device: str = "auto",
                 engine: EngineParams = ONE_PROCESS, encoder: str | os.PathLike | None = None) -> None:
        from music_emotion.models.runtime import resolve_device

        if encoder is not None:
            use_local_encoder(model, encoder)
        self.model, self.settings, self.engine = model, settings, engine
        self.name = name or model.description
        self.device = resolve_device(device)
        self.feature_config = model_feature_config(model)

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, device: str = "auto", engine: EngineParams = ONE_PROCESS,
                        encoder: str | os.PathLike | None = None) -> EmotionModel:
        """An exported model folder (`music-emotion export`) or a hub id; checked before anything is built
        (`models.base.load_pretrained_model`): no remote code, no pickle, weights that fit the config. `encoder`:
        for an embedding model, a local folder holding its encoder (`hf download <id> --local-dir DIR`), used
        instead of the Hugging Face cache or hub (offline)."""
        from music_emotion.models.base import load_pretrained_model

        folder = resolve_model_folder(source)
        settings = read_settings(folder)
        name = Path(source).name if Path(source).expanduser().is_dir() else str(source)
        return cls(load_pretrained_model(folder), settings, name=name, device=device, engine=engine, encoder=encoder)

    def predict(self, path: str | os.PathLike, scale: str = "unit") -> SongEmotion:
        """One file's valence/arousal (`scale="deam"`: on the training ratings' 1-9 scale)."""
        return next(self.iter_predict([path], scale))

    def predict_many(self, paths: Iterable[str | os.PathLike], scale: str = "unit") -> list[SongEmotion]:
        """Many files, decoded in batches on the engine while the model predicts the previous batch."""
        return list(self.iter_predict(paths, scale))

    def iter_predict(self, paths: Iterable[str | os.PathLike], scale: str = "unit",
                     names: Iterable[str] | None = None) -> Iterator[SongEmotion]:
        """`predict_many` one file at a time, in order (for progress bars and pages that show results as they come)."""
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        paths = [str(p) for p in paths]
        names = list(names) if names is not None else paths
        size = self.settings.files_per_batch
        starts = range(0, len(paths), size)
        audio = whole_files_seconds(paths, self.engine.min_audio_seconds)
        with FileEngine(self.engine, len(paths), self.feature_config.duration, audio) as engine:
            for per_file in predict_batches(engine, [paths[i : i + size] for i in starts],
                                            [names[i : i + size] for i in starts], self.model, self.feature_config,
                                            self.settings.min_window_fraction, self.settings.batch_size, self.device):
                for rows in per_file:
                    yield self._song(rows, scale)

    def window_table(self, songs: Iterable[SongEmotion]) -> pd.DataFrame:
        """Per-window rows of `songs` in the inference pipeline's columns (a skipped file: one row with its
        reason), e.g. for a CSV or Parquet file."""
        tables = []
        for song in songs:
            windows = song.windows.rename(columns={"start_s": "segment_start_s"})
            if windows.empty:
                windows = pd.DataFrame({"segment_start_s": [float("nan")]})
            tables.append(windows.assign(file=song.file, status=song.status, reason=song.reason,
                                         segment=range(len(windows)), file_valence=song.valence,
                                         file_arousal=song.arousal))
        table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
        return table.reindex(columns=[c for c in WINDOW_COLUMNS if c != "padded"]).assign(model=self.name)

    def to_scale(self, value: float, scale: str) -> float:
        if scale == "unit":
            return value
        low, high = self.settings.rating_scale
        return (high + low) / 2 + value * (high - low) / 2

    def _song(self, rows: list[dict[str, Any]], scale: str) -> SongEmotion:
        first = rows[0]
        if first["status"] == "skipped":
            return SongEmotion(first["file"], float("nan"), float("nan"), "", 0, "skipped", first["reason"])
        windows = pd.DataFrame({
            "start_s": [r["segment_start_s"] for r in rows],
            "valence": [self.to_scale(r["valence"], scale) for r in rows],
            "arousal": [self.to_scale(r["arousal"], scale) for r in rows],
        })
        valence, arousal = first["file_valence"], first["file_arousal"]
        return SongEmotion(
            first["file"], self.to_scale(valence, scale), self.to_scale(arousal, scale), quadrant_of(valence, arousal),
            len(rows), "padded" if all(r["padded"] for r in rows) else "ok", "", windows,
        )


def use_local_encoder(model: Any, encoder: str | os.PathLike) -> None:
    """Point an embedding model at a local encoder folder (read when the first window is predicted)."""
    from music_emotion.models.embedding_probe import EmbeddingProbeRegressor

    if not isinstance(model, EmbeddingProbeRegressor):
        raise ValueError(f"an encoder folder ('{encoder}') is for embedding-probe models; this one is a "
                         f"{model.description}")
    if not Path(encoder).expanduser().is_dir():
        raise ValueError(f"the encoder folder '{encoder}' does not exist: download it with "
                         f"`hf download {model.config['encoder']['checkpoint']} --local-dir {encoder}`")
    model.encoder_path = str(Path(encoder).expanduser())


def audio_paths(sources: Iterable[str | os.PathLike], extensions: Iterable[str]) -> tuple[list[Path], list[str]]:
    """(the audio files named or found in folders, recursively and sorted; what could not be listed, with why)."""
    wanted = {e.lower() for e in extensions}
    files: list[Path] = []
    problems: list[str] = []
    for source in sources:
        path = Path(source)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            def report(exc: OSError) -> None:
                problems.append(f"{exc.filename}: cannot list folder ({exc.strerror})")

            for root, dirs, names in os.walk(path, onerror=report):
                dirs.sort()
                files += [Path(root) / n for n in sorted(names) if Path(n).suffix.lower() in wanted]
        else:
            problems.append(f"{source}: no such file or folder")
    return files, problems
