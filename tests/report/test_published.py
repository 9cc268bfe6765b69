"""The published-figures table: every arm's TEST R² with its CI, the split it was measured on, sources."""

from __future__ import annotations

import numpy as np

from music_emotion.report.published import PUBLISHED, comparison_table
from music_emotion.study.metrics import regression_report


def _metrics():
    rng = np.random.default_rng(0)
    truth = rng.uniform(-1, 1, size=(40, 2))
    good = truth + rng.normal(0, 0.2, truth.shape)
    return {"real_only": {"n_songs": 40, **regression_report(truth, good, 50, 0)},
            "mean": {"n_songs": 40, **regression_report(truth, np.zeros_like(truth), 50, 0)}}


def test_every_arm_and_every_published_result_is_a_row_with_its_source():
    metrics = _metrics()
    table = comparison_table(metrics, {"train": [1] * 28, "val": [2] * 6, "test": [3] * 6})
    r2 = metrics["real_only"]["valence"]["r2"]
    assert f"| real_only (this run) | this corpus, 40 TEST songs | {r2['value']:.3f} [{r2['ci_low']:.3f}, " in table
    assert "| mean (this run) |" in table
    for row in PUBLISHED:
        assert f"| {row.model} | {row.dataset} | {row.r2_valence:.3f} | {row.r2_arousal:.3f} |" in table
    assert "a seeded stratified split 28 / 6 / 6 (not Music2Emo's songs" in table


def test_a_run_on_the_published_lists_says_so_and_counts_the_listed_songs_it_lacks():
    splits = {"train": [1, 2], "val": [3], "test": [4], "song_lists": {"train": "t.txt"},
              "not_in_corpus": {"train": [9], "val": [], "test": [8]}}
    table = comparison_table(_metrics(), splits)
    assert table.startswith("TEST songs of the published lists 2 / 1 / 1 (2 listed songs not in this corpus)")
