"""Our TEST R² beside published music-emotion figures, so the day someone runs DEAM the comparison is one table.

Published numbers are R² of static valence / arousal (the coefficient of determination is unchanged by our [-1, 1]
rescaling of DEAM's 1-9 ratings). Only Music2Emo's are on DEAM, and only comparable when our run used its split
(`data_processing.split.song_lists` = its lists); MARBLE's are on EmoMusic, another dataset, shown for scale."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from music_emotion.data import TARGETS


@dataclass(frozen=True)
class PublishedResult:
    model: str
    dataset: str
    r2_valence: float
    r2_arousal: float
    source: str


PUBLISHED = (
    PublishedResult("Music2Emo (MERT-v1-95M + chord/key), trained on DEAM", "DEAM, Music2Emo's 1,261 / 271 / 270 split",
                    0.513, 0.603, "Kang & Herremans 2025, arXiv 2502.03979"),
    PublishedResult("Music2Emo, trained on four datasets", "DEAM, Music2Emo's split", 0.518, 0.623,
                    "Kang & Herremans 2025, arXiv 2502.03979"),
    PublishedResult("MERT-330M, frozen + probe", "EmoMusic (744 clips), not DEAM", 0.612, 0.747,
                    "MARBLE benchmark (Yuan et al. 2023), EMO task"),
    PublishedResult("MusicFM, frozen + probe", "EmoMusic (744 clips), not DEAM", 0.603, 0.763,
                    "MARBLE benchmark, EMO task"),
    PublishedResult("MuQ, frozen + probe", "EmoMusic (744 clips), not DEAM", 0.609, 0.754,
                    "MARBLE benchmark, EMO task"),
)


def split_description(song_splits: Mapping[str, Any]) -> str:
    sizes = " / ".join(f"{len(song_splits[part]):,}" for part in ("train", "val", "test"))
    if song_splits.get("song_lists"):
        missing = sum(len(ids) for ids in (song_splits.get("not_in_corpus") or {}).values())
        return f"the published lists {sizes}" + (f" ({missing} listed songs not in this corpus)" if missing else "")
    return f"a seeded stratified split {sizes} (not Music2Emo's songs: compare with the CI, not the digits)"


def comparison_table(test_metrics: Mapping[str, Any], song_splits: Mapping[str, Any]) -> str:
    """A markdown table: every arm's TEST R² (with its bootstrap CI) and CCC, then the published rows."""
    def cell(report: Mapping[str, Any], target: str, metric: str) -> str:
        value = report[target][metric]
        return f"{value['value']:.3f} [{value['ci_low']:.3f}, {value['ci_high']:.3f}]"

    lines = [f"TEST songs of {split_description(song_splits)}", "",
             "| model | data | R² valence | R² arousal | CCC valence | CCC arousal | source |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for arm, report in test_metrics.items():
        if not isinstance(report, Mapping) or not all(t in report for t in TARGETS):
            continue
        cells = " | ".join(cell(report, target, metric) for metric in ("r2", "ccc") for target in TARGETS)
        lines.append(f"| {arm} (this run) | this corpus, {report['n_songs']} TEST songs | {cells} | test_metrics |")
    for row in PUBLISHED:
        lines.append(f"| {row.model} | {row.dataset} | {row.r2_valence:.3f} | {row.r2_arousal:.3f} | - | - | "
                     f"{row.source} |")
    return "\n".join(lines)
