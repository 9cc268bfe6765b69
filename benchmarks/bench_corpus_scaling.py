"""Do the data stages grow with the songs, and no faster? Time and peak RSS at 1/4, 1/2 and all of the rehearsal corpus.

    python benchmarks/bench_corpus_scaling.py                      # fractions 0.25 0.5 1.0 of the DEAM-size corpus
    python benchmarks/bench_corpus_scaling.py --fractions 0.1 0.2 --features mel ast

Each fraction runs in a fresh process (so its peak RSS is its own, Dask workers included) and calls the data
stage's node functions on the first fraction of the rehearsal corpus's songs (by id), loaded through the
rehearsal env's catalog: `merge_annotations` -> `extract_mel_spectrograms` (and `extract_ast_features` with
`--features ast`) -> `split_songs`, with conf/rehearsal's parameters; each feature set is saved as the catalog
saves it (`SpectrogramDataset`, the step whose memory map once doubled the peak), to a temporary folder. Needs
the corpus (`kedro run --env rehearsal --pipelines demo_data`). Results: results/corpus_scaling.json and a table
of seconds and MB per song at each fraction (flat = linear).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness import RESULTS_DIR, PeakRSS, machine

PROJECT = Path(__file__).resolve().parents[1]


def measure_fraction(fraction: float, features: list[str]) -> dict:
    """Run the data stage's nodes on `fraction` of the corpus here; returns seconds and peak RSS per part."""
    import tempfile

    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from kedro.io import Version

    from music_emotion.datasets import SpectrogramDataset
    from music_emotion.pipelines.data_processing.nodes import (
        extract_ast_features,
        extract_mel_spectrograms,
        merge_annotations,
        split_songs,
    )

    bootstrap_project(PROJECT)
    with KedroSession.create(project_path=PROJECT, env="rehearsal") as session:
        context = session.load_context()
        catalog, params = context.catalog, context.params
        audio = catalog.load("deam_audio")
        labels, _ = merge_annotations(catalog.load("deam_annotations_1_2000"),
                                      catalog.load("deam_annotations_2000_2058"), params["data_processing"]["labels"])
    ids = sorted(int(i) for i in labels["song_id"])[: max(1, round(fraction * len(labels)))]
    keep = {str(i) for i in ids}
    audio = {stem: path for stem, path in audio.items() if stem in keep}
    labels = labels[labels["song_id"].astype(int).isin(ids)].reset_index(drop=True)
    row: dict = {"fraction": fraction, "songs": len(ids)}
    scratch = tempfile.TemporaryDirectory(prefix="corpus_scaling_")

    def save(name, data):  # as Kedro's runner does: save, then the next node loads it (a read-only memory map)
        dataset = SpectrogramDataset(filepath=f"{scratch.name}/{name}.npy", version=Version(None, None))
        dataset.save(data)
        return dataset.load()

    with PeakRSS(interval=0.2) as rss, scratch:
        start = time.perf_counter()
        mel, _ = extract_mel_spectrograms(audio, labels, params["data_processing"]["extraction"], params["dask"])
        mel = save("mel_spectrograms", mel)
        row["mel_seconds"] = round(time.perf_counter() - start, 1)
        if "ast" in features:
            start = time.perf_counter()
            save("ast_features", extract_ast_features(audio, mel, params["data_processing"]["ast_features"],
                                                      params["data_processing"]["extraction"], params["dask"]))
            row["ast_seconds"] = round(time.perf_counter() - start, 1)
        start = time.perf_counter()
        split_songs(mel, labels, params["data_processing"]["split"], params["seed"])
        row["split_seconds"] = round(time.perf_counter() - start, 2)
    row["peak_rss_mb"] = round(rss.peak / 2**20)
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fractions", nargs="+", type=float, default=[0.25, 0.5, 1.0])
    parser.add_argument("--features", nargs="+", default=["mel"], choices=["mel", "ast"])
    parser.add_argument("--one", type=float, default=None, help=argparse.SUPPRESS)  # a child process's fraction
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(measure_fraction(args.one, args.features)), flush=True)
        return []
    env = dict(os.environ, KEDRO_DISABLE_TELEMETRY="true", MUSIC_EMOTION_NO_PROGRESS="1")
    rows = []
    for fraction in args.fractions:
        out = subprocess.run([sys.executable, __file__, "--one", str(fraction), "--features", *args.features],
                             cwd=PROJECT, env=env, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    print("\n| songs | extraction s | s per song | peak RSS MB | MB per song |\n|---:|---:|---:|---:|---:|")
    for row in rows:
        seconds = row["mel_seconds"] + row.get("ast_seconds", 0.0)
        print(f"| {row['songs']} | {seconds:.0f} | {seconds / row['songs']:.3f} | {row['peak_rss_mb']} | "
              f"{row['peak_rss_mb'] / row['songs']:.2f} |")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "corpus_scaling.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    return rows


if __name__ == "__main__":
    main()
