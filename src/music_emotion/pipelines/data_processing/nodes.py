"""Nodes of `data_processing`: DEAM annotations + audio -> labels, log-mel spectrograms (and AST features or audio
embeddings when an arm reads them), report, split.

Everything that is skipped or dropped is listed with its reason in `extraction_report`; nothing is
lost silently. The song split happens here, before any augmentation, so later pipelines can only
ever train on train songs.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
import pandas as pd

from music_emotion.audio.engine import EngineParams
from music_emotion.audio.extraction import extract_many
from music_emotion.audio.fbank import FbankConfig
from music_emotion.audio.listing import relative_name
from music_emotion.audio.log_mel import MelConfig
from music_emotion.data.spectrograms import SpectrogramSet
from music_emotion.data.splits import SPLITS, deal_by_stratum, song_strata, split_from_lists
from music_emotion.data.tables import require_columns
from music_emotion.models.audio_encoder import EncoderParams, FrozenAudioEncoder, embed_songs

logger = logging.getLogger(__name__)

LABEL_COLUMNS = ["song_id", "valence", "arousal", "valence_mean", "valence_std", "arousal_mean", "arousal_std",
                 "source_file"]
REPORT_COLUMNS = ["song_id", "file", "stage", "status", "reason", "audio_seconds"]


def _normalise_column(name: str) -> str:
    """DEAM headers carry stray spaces (`' valence_mean'`, `'valence_ max_mean'`): drop all white space."""
    return re.sub(r"\s+", "", str(name))


def _read_table(table: pd.DataFrame, required: list[str]) -> tuple[pd.DataFrame, str]:
    source = table.attrs.get("source_file", "<in-memory table>")
    table = table.rename(columns=_normalise_column)
    require_columns(table, required, f"annotation file {source}",
                    "expected DEAM's static_annotations_averaged_songs_*.csv (song_id, valence_mean, valence_std, "
                    "arousal_mean, arousal_std, ...)")
    table = table[required].copy()
    table["source_file"] = source
    return table, source


def merge_annotations(
    annotations_1_2000: pd.DataFrame, annotations_2000_2058: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Merge DEAM's two static annotation tables into `emotion_labels` in [-1, 1].

    Rows with a non-numeric id, a missing or out-of-range rating, or an id that appears with
    conflicting ratings are dropped and returned in `annotation_issues` with their reason.
    Ratings become (x - centre) / half_range, i.e. (x - 5) / 4 for DEAM's 1-9 scale.
    """
    required = list(params["required_columns"])
    low, high = float(params["rating_min"]), float(params["rating_max"])
    frames = [_read_table(t, required)[0] for t in (annotations_1_2000, annotations_2000_2058)]
    merged = pd.concat(frames, ignore_index=True)
    issues: list[dict[str, Any]] = []

    def drop(mask: pd.Series, reason: str) -> None:
        nonlocal merged
        for _, row in merged[mask].iterrows():
            issues.append({"song_id": row["song_id"], "file": row["source_file"], "reason": reason})
        merged = merged[~mask]

    numeric_id = pd.to_numeric(merged["song_id"], errors="coerce")
    drop(numeric_id.isna() | (numeric_id % 1 != 0), "song_id is not an integer")
    merged["song_id"] = pd.to_numeric(merged["song_id"]).astype("int64")
    rating_columns = [c for c in required if c != "song_id"]
    for column in rating_columns:
        merged[column] = pd.to_numeric(merged[column], errors="coerce")
    for target in ("valence_mean", "arousal_mean"):
        drop(merged[target].isna(), f"{target} is missing or not a number")
        drop((merged[target] < low) | (merged[target] > high), f"{target} outside [{low:g}, {high:g}]")

    duplicated = merged["song_id"].duplicated(keep=False)
    if duplicated.any():
        groups = merged[duplicated].groupby("song_id")[rating_columns]
        agreeing = groups.nunique(dropna=False).max(axis=1) <= 1
        same_ids = set(agreeing[agreeing].index)
        repeat = merged["song_id"].isin(same_ids) & merged["song_id"].duplicated(keep="first")
        drop(repeat, "duplicate song_id with identical ratings (first occurrence kept)")
        conflicting = merged["song_id"].isin(set(agreeing[~agreeing].index))
        drop(conflicting, "duplicate song_id with conflicting ratings (all occurrences dropped)")

    centre, half_range = (low + high) / 2, (high - low) / 2
    merged["valence"] = (merged["valence_mean"] - centre) / half_range
    merged["arousal"] = (merged["arousal_mean"] - centre) / half_range
    labels = merged.reindex(columns=LABEL_COLUMNS).sort_values("song_id").reset_index(drop=True)
    issue_table = pd.DataFrame(issues, columns=["song_id", "file", "reason"])
    if issues:
        logger.warning("Dropped %d annotation row(s): %s", len(issues), issue_table["reason"].value_counts().to_dict())
    if labels.empty:
        raise ValueError("No valid annotation row remains after validation; see the reasons logged above")
    logger.info("%d songs with valid valence/arousal ratings", len(labels))
    return labels, issue_table


def log_outcomes(report: pd.DataFrame, shown: int = 5) -> None:
    """How many files were used, padded or skipped, and which files and why (the first few of each: every one is
    in the `extraction_log` dataset, 08_reporting/extraction_log.csv)."""
    counts = report["status"].value_counts()
    logger.info("Extraction: %s (every file's outcome: the extraction_log dataset)",
                ", ".join(f"{n} {status}" for status, n in counts.items()))
    for status in ("skipped", "padded"):
        rows = report[report["status"] == status]
        for row in rows.head(shown).itertuples():
            logger.info("  %s: %s: %s", status, row.file if isinstance(row.file, str) else f"song {row.song_id}",
                        row.reason)
        if len(rows) > shown:
            logger.info("  ... and %d more %s", len(rows) - shown, status)


def extract_mel_spectrograms(
    audio_files: dict[str, str], emotion_labels: pd.DataFrame, extraction: dict[str, Any], dask: dict[str, Any]
) -> tuple[SpectrogramSet, pd.DataFrame]:
    """Decode every annotated song's window and compute its log-mel spectrogram, in parallel on the `dask`
    engine (a local cluster, a team's scheduler, or one process for a handful of files).

    Songs without audio, audio without annotation and undecodable files are skipped and logged;
    short clips are padded and logged. Fails only when no valid song remains.
    """
    config = MelConfig.from_params(extraction)
    labelled = set(emotion_labels["song_id"].astype(int))
    log: list[dict[str, Any]] = []
    items: list[tuple[str, str]] = []
    audio_ids: set[int] = set()
    first_file: dict[int, str] = {}
    for stem, absolute in audio_files.items():
        path = relative_name(audio_files, absolute)  # reports name files relative to the audio folder
        if not re.fullmatch(r"\d+", stem):
            log.append({"song_id": None, "file": path, "stage": "audio", "status": "skipped",
                        "reason": "file name is not a DEAM song id (<song_id>.mp3)"})
            continue
        song_id = int(stem)
        if song_id in audio_ids:  # e.g. 16.mp3 and 0016.mp3: checked before any decoding, not at the end
            log.append({"song_id": song_id, "file": path, "stage": "audio", "status": "skipped",
                        "reason": f"another file already has song id {song_id} ({first_file[song_id]})"})
            continue
        audio_ids.add(song_id)
        first_file[song_id] = path
        if song_id not in labelled:
            log.append({"song_id": song_id, "file": path, "stage": "audio", "status": "skipped",
                        "reason": "audio file has no annotation"})
            continue
        items.append((stem, absolute))
    for song_id in sorted(labelled - audio_ids):
        log.append({"song_id": song_id, "file": None, "stage": "audio", "status": "skipped",
                    "reason": "annotated song has no audio file"})

    values, results = extract_many(items, config, EngineParams.from_params(dask))
    paths = {stem: relative_name(audio_files, absolute) for stem, absolute in items}
    kept_ids, valid_frames = [], []
    for result in results:
        song_id = int(result.key)
        if result.status != "skipped":
            kept_ids.append(song_id)
            valid_frames.append(config.frames_for(result.audio_seconds))
        log.append({"song_id": song_id, "file": paths[result.key], "stage": "audio", "status": result.status,
                    "reason": result.reason, "audio_seconds": result.audio_seconds})
    report = pd.DataFrame(log, columns=REPORT_COLUMNS).astype({"song_id": "Int64"})
    log_outcomes(report)
    if not kept_ids:
        reasons = report["reason"].value_counts().head(5).to_dict()
        raise ValueError(
            f"No valid song remains after extraction ({len(audio_files)} audio files, "
            f"{len(labelled)} annotated songs). "
            f"Most common reasons: {reasons}. Check that the audio folder and annotation CSVs in the catalog "
            "belong together (file names must be <song_id>.mp3)."
        )
    # valid_frames: frames of real audio per song, so model windows and crops stay out of the padding
    meta = {"extraction": config.to_dict(), "n_frames": config.n_frames, "valid_frames": valid_frames}
    return SpectrogramSet(ids=kept_ids, values=values, meta=meta), report


def extract_ast_features(
    audio_files: dict[str, str], mel_spectrograms: SpectrogramSet, ast_features: dict[str, Any],
    extraction: dict[str, Any], dask: dict[str, Any],
) -> SpectrogramSet:
    """The AST's Kaldi filter banks of exactly the songs `mel_spectrograms` kept, over the same span, in the same row
    order, so every split, fold and window means the same audio for ViT and AST arms.

    Only built when an arm has `model: ast`. A song whose audio decoded for the log-mel spectrograms but not now
    (a file changed or vanished in between) stops the run with its name: a silently smaller set would change the split.
    """
    config = FbankConfig.from_params(ast_features, extraction)
    items, missing = _song_files(audio_files, mel_spectrograms)
    values, results = extract_many(items, config, EngineParams.from_params(dask))
    _require_every_song(audio_files, items, results, missing, "AST features")
    valid_frames = [config.frames_for(r.audio_seconds) for r in results]
    logger.info("AST features: %d songs, %d mel bins x %d frames at %d Hz", len(results), config.n_mels,
                config.n_frames, config.sample_rate)
    meta = {"extraction": config.to_dict(), "n_frames": config.n_frames, "valid_frames": valid_frames}
    return SpectrogramSet(ids=list(mel_spectrograms.ids), values=values, meta=meta)


def extract_audio_embeddings(
    audio_files: dict[str, str], mel_spectrograms: SpectrogramSet, embeddings: dict[str, Any],
    extraction: dict[str, Any], dask: dict[str, Any], seed: int,
) -> SpectrogramSet:
    """A frozen encoder's embedding of every encoder window of exactly the songs `mel_spectrograms` kept, over the
    same span, in the same row order (only built when an arm has `model: embedding`). The set's metadata names the
    encoder, so another encoder makes another set. A song that decoded for the log-mel spectrograms but not now
    stops the run with its name, as for the AST features."""
    params = EncoderParams.from_params(embeddings)
    encoder = FrozenAudioEncoder(params, seed)
    items, missing = _song_files(audio_files, mel_spectrograms)
    duration, offset = float(extraction["duration"]), float(extraction["offset"])
    values, valid, results = embed_songs(items, encoder, duration, offset, str(extraction["resample_type"]),
                                         params.songs_per_chunk, EngineParams.from_params(dask))
    _require_every_song(audio_files, items, results, missing, "audio embeddings")
    logger.info("Audio embeddings: %d songs x %d windows of %g s x %d dims (%s)", len(values), values.shape[1],
                encoder.window_seconds, encoder.dim, params.checkpoint or "randomly initialised encoder")
    meta = {"extraction": {**encoder.describe(), "duration": duration, "offset": offset,
                           "resample_type": str(extraction["resample_type"])},
            "n_frames": int(values.shape[2]), "valid_frames": valid.tolist()}
    return SpectrogramSet(ids=list(mel_spectrograms.ids), values=values, meta=meta)


def _song_files(audio_files: dict[str, str],
                mel_spectrograms: SpectrogramSet) -> tuple[list[tuple[str, str]], list[Any]]:
    """(key, path) of each song of `mel_spectrograms` (the first file of an id, as extract_mel_spectrograms keeps
    it), and the songs that have no file any more."""
    by_id: dict[int, tuple[str, str]] = {}
    for stem, absolute in audio_files.items():
        if re.fullmatch(r"\d+", stem):
            by_id.setdefault(int(stem), (stem, absolute))
    missing = [song for song in mel_spectrograms.ids if int(song) not in by_id]
    return [by_id[int(song)] for song in mel_spectrograms.ids if int(song) in by_id], missing


def _require_every_song(audio_files: dict[str, str], items: list[tuple[str, str]], results: list,
                         missing: list[Any], what: str) -> None:
    """Stop, naming the songs, when a song of `mel_spectrograms` has no `what`: a silently smaller feature set
    would change the split."""
    paths = dict(items)
    failed = [f"{relative_name(audio_files, paths[r.key])}: {r.reason}" for r in results if r.status == "skipped"]
    failed += [f"song {song}: no audio file any more" for song in missing]
    if failed:
        raise ValueError(
            f"{len(failed)} song(s) of mel_spectrograms have no {what} ({failed[:5]}); the audio changed since "
            "the log-mel extraction: re-run `kedro run --pipelines data_processing`"
        )


def build_extraction_report(annotation_issues: pd.DataFrame, extraction_log: pd.DataFrame) -> pd.DataFrame:
    """One table of every song that was dropped, skipped, padded or kept, with the reason."""
    annotation_rows = annotation_issues.assign(stage="annotations", status="dropped", audio_seconds=np.nan)
    frames = [f for f in (annotation_rows, extraction_log) if not f.empty]
    report = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=REPORT_COLUMNS)
    return report.reindex(columns=REPORT_COLUMNS)


def split_songs(
    mel_spectrograms: SpectrogramSet, emotion_labels: pd.DataFrame, params: dict[str, Any], seed: int
) -> dict[str, Any]:
    """Split the songs that have both a spectrogram and a label into train/val/test, by song.

    Stratified by V/A quadrant (parameter `stratify`), deterministic for a given seed: songs are
    shuffled within each quadrant and dealt to whichever split is furthest below its fraction. With
    `song_lists` (a published split, e.g. Music2Emo's), those lists instead; their songs this corpus lacks are
    named in the log and in the split (`not_in_corpus`).
    """
    if params["song_lists"]:
        return _published_split(mel_spectrograms, emotion_labels, params["song_lists"], seed)
    fractions = {name: float(params["fractions"][name]) for name in SPLITS}
    if any(f <= 0 for f in fractions.values()) or not np.isclose(sum(fractions.values()), 1.0):
        raise ValueError(f"data_processing.split.fractions must be positive and sum to 1, got {fractions}")
    labels = emotion_labels.set_index("song_id").loc[lambda t: t.index.isin(mel_spectrograms.ids)]
    labels = labels.sort_index()
    if len(labels) < len(SPLITS):
        raise ValueError(f"Only {len(labels)} song(s) have both audio and labels: too few for a train/val/test split")
    ids = labels.index.to_numpy()
    strata = song_strata(labels, params["stratify"], "data_processing.split.stratify")
    assigned = deal_by_stratum(ids, strata, fractions, np.random.default_rng(seed))
    for name in SPLITS:
        if not assigned[name]:
            raise ValueError(f"The '{name}' split is empty with {len(ids)} songs and fractions {fractions}")
    logger.info("Split by song: %s", {name: len(v) for name, v in assigned.items()})
    return {**{name: sorted(v) for name, v in assigned.items()}, "seed": int(seed), "fractions": fractions,
            "stratify": params["stratify"]}


def _published_split(mel_spectrograms: SpectrogramSet, emotion_labels: pd.DataFrame, lists: dict[str, str],
                     seed: int) -> dict[str, Any]:
    labelled = set(emotion_labels["song_id"].astype(int)) & set(int(song) for song in mel_spectrograms.ids)
    assigned, absent = split_from_lists(lists, sorted(labelled), "data_processing.split.song_lists")
    for name in SPLITS:
        if not assigned[name]:
            raise ValueError(f"data_processing.split.song_lists.{name}: none of its songs is in this corpus")
    left_out = sorted(labelled - {song for ids in assigned.values() for song in ids})
    if any(absent.values()) or left_out:
        logger.warning("Published split: %s of its songs are not in this corpus; %d corpus songs are in no list",
                       {name: len(ids) for name, ids in absent.items()}, len(left_out))
    logger.info("Split by song (published lists): %s", {name: len(v) for name, v in assigned.items()})
    return {**assigned, "seed": int(seed), "fractions": None, "stratify": None, "song_lists": dict(lists),
            "not_in_corpus": absent, "in_no_list": left_out}
