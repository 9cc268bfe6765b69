"""Memory of `training` on the demo env: peak RSS does not grow with the number of spectrograms.

For each scale (default 1x, 4x and 16x the demo dataset: 128 songs stored at 64 x 517 (12 s) + 320 GAN
windows at 64 x 258 (6 s)), the parent writes seeded random inputs the way the upstream pipelines store them
(`SpectrogramDataset` .npy + .json with `valid_frames` and the GAN's provenance, labels CSV, splits JSON) and
runs the whole `training` pipeline (the arms of `--arms`, by default mean, ridge, real_only and gan: both
baselines, a ViT on real songs and one on real + GAN windows, then the test evaluation) with Kedro's
SequentialRunner in a fresh subprocess, with the conf/demo parameters and 1 epoch.
It samples the subprocess tree every 20 ms and reports:
  - peak RSS: everything resident, including the pages of the memory-mapped spectrograms the run has read
    (file-backed page cache: the kernel can drop them at any time, so they are not memory the run needs);
  - peak anonymous RSS (RSS - shared): the process's own heap (model, optimiser, batches, tables): what
    would grow if the spectrograms were loaded into RAM.

Memory is O(batch), not O(number of spectrograms): it may grow at the small scales (1x -> 4x) while batches
and read blocks fill up (training batches of crops, validation/test windows 64 at a time, the
dataset-normalisation statistics and the ridge baseline's pooled features read blocks of rows as float64),
then stays flat (4x -> 16x) while the spectrogram data grows 4x. The target is judged between the two
largest scales.

    python benchmarks/bench_memory.py [--scales 1 4 16] [--songs 128] [--synthetic 320]
                                      [--arms mean ridge real_only gan]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import (  # noqa: E402
    busy_cores,
    extraction_of,
    gan_window,
    project_parameters,
    spectrogram_shape,
)
from harness import Measurement, report  # noqa: E402

SPLIT_FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}


class TreeMemory:
    """Peak RSS and peak anonymous RSS (RSS - shared) of a process and its children, sampled in a thread."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = self.peak_anon = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        rss = anon = 0
        try:
            processes = [self.process, *self.process.children(recursive=True)]
        except psutil.Error:
            return
        for process in processes:
            try:
                info = process.memory_info()
            except psutil.Error:
                continue
            rss += info.rss
            anon += info.rss - getattr(info, "shared", 0)
        self.peak_rss, self.peak_anon = max(self.peak_rss, rss), max(self.peak_anon, anon)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


# ---- inputs -----------------------------------------------------------------------------------------
def write_inputs(folder: Path, n_songs: int, n_synthetic: int, shape: tuple[int, int], synthetic_frames: int,
                 params: dict[str, Any], seed: int) -> dict[str, Any]:
    """Demo-shaped stand-ins for data_processing / gan_augmentation outputs (random dB in [-80, 0]):
    songs of `shape` (n_mels, stored frames), GAN windows of (n_mels, `synthetic_frames`)."""
    import pandas as pd

    from music_emotion.data.spectrograms import SpectrogramSet
    from music_emotion.datasets import SpectrogramDataset

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    extraction = extraction_of(params)

    def spectrograms(n: int, frames: int) -> np.ndarray:
        return rng.uniform(-80.0, 0.0, size=(n, shape[0], frames)).astype(np.float32)

    song_ids = list(range(2, 2 + n_songs))
    order = [int(i) for i in rng.permutation(song_ids)]
    n_train, n_val = int(0.70 * n_songs), int(0.15 * n_songs)
    SpectrogramDataset(str(folder / "mel_spectrograms.npy")).save(
        SpectrogramSet(song_ids, spectrograms(n_songs, shape[1]),
                       {"extraction": extraction, "n_frames": shape[1], "valid_frames": [shape[1]] * n_songs}))
    synthetic_ids = [f"gan-{i:06d}" for i in range(n_synthetic)]
    SpectrogramDataset(str(folder / "synthetic_spectrograms.npy")).save(
        SpectrogramSet(synthetic_ids, spectrograms(n_synthetic, synthetic_frames),
                       {"extraction": extraction, "source": "gan", "gan_train_song_ids": sorted(order[:n_train])}))
    va = rng.uniform(-1, 1, size=(n_songs, 2))
    pd.DataFrame({"song_id": song_ids, "valence": va[:, 0], "arousal": va[:, 1],
                  "valence_mean": 5 + 4 * va[:, 0], "valence_std": 1.0, "arousal_mean": 5 + 4 * va[:, 1],
                  "arousal_std": 1.0, "source_file": "synthetic"}).to_csv(folder / "emotion_labels.csv", index=False)
    sva = rng.uniform(-1, 1, size=(n_synthetic, 2))
    pd.DataFrame({"sample_id": synthetic_ids, "valence": sva[:, 0], "arousal": sva[:, 1],
                  "condition_sampling": "uniform"}).to_csv(folder / "synthetic_labels.csv", index=False)
    splits = {"train": order[:n_train], "val": order[n_train : n_train + n_val], "test": order[n_train + n_val :],
              "seed": seed, "fractions": SPLIT_FRACTIONS}
    (folder / "song_splits.json").write_text(json.dumps(splits))
    (folder / "parameters.json").write_text(json.dumps(params))
    data_bytes = (n_songs * shape[1] + n_synthetic * synthetic_frames) * shape[0] * 4
    return {"n_songs": n_songs, "n_synthetic": n_synthetic, "n_train": n_train, "data_mb": data_bytes / 2**20}


# ---- the measured subprocess ---------------------------------------------------------------------------
def flatten_parameters(params: dict[str, Any], prefix: str = "params:") -> dict[str, Any]:
    """`params:a`, `params:a.b`, ... as Kedro feeds them to nodes."""
    out = {}
    for key, value in params.items():
        out[prefix + key] = value
        if isinstance(value, dict):
            out.update(flatten_parameters(value, f"{prefix}{key}."))
    return out


def run_pipeline(folder: Path) -> dict[str, Any]:
    """The training pipeline on the inputs in `folder` (runs inside the measured subprocess)."""
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.runner import SequentialRunner
    from kedro_datasets.json import JSONDataset
    from kedro_datasets.pandas import CSVDataset

    from music_emotion.datasets import SpectrogramDataset
    from music_emotion.framework.running import run_parameters
    from music_emotion.pipelines.training import create_pipeline

    params = json.loads((folder / "parameters.json").read_text())
    run_parameters._current["parameters"] = params  # the arms the pipeline is built for (no Kedro session here)
    datasets = {
        "mel_spectrograms": SpectrogramDataset(str(folder / "mel_spectrograms.npy")),  # memory-mapped
        "synthetic_spectrograms": SpectrogramDataset(str(folder / "synthetic_spectrograms.npy")),
        "emotion_labels": CSVDataset(filepath=str(folder / "emotion_labels.csv")),
        "synthetic_labels": CSVDataset(filepath=str(folder / "synthetic_labels.csv")),
        "song_splits": JSONDataset(filepath=str(folder / "song_splits.json")),
    }
    datasets.update({name: MemoryDataset(value, copy_mode="assign")
                     for name, value in flatten_parameters(params).items()})
    started = time.perf_counter()
    outputs = SequentialRunner().run(create_pipeline(), DataCatalog(datasets))
    seconds = time.perf_counter() - started
    metrics = outputs["test_metrics"].load() if hasattr(outputs.get("test_metrics"), "load") else None
    return {"pipeline_seconds": seconds, "outputs": sorted(outputs),
            "test_models": sorted(metrics) if isinstance(metrics, dict) else None}


def measure_run(folder: Path, log: Path) -> dict[str, Any]:
    """Start the subprocess, sample its memory until it exits."""
    env = dict(os.environ, MUSIC_EMOTION_NO_PROGRESS="1", HF_HUB_OFFLINE="1", KEDRO_DISABLE_TELEMETRY="true",
               MPLBACKEND="Agg")
    result = folder / "result.json"
    result.unlink(missing_ok=True)
    started = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen([sys.executable, __file__, "--worker", str(folder)], stdout=out,
                                 stderr=subprocess.STDOUT, env=env, cwd=str(folder))
        with TreeMemory(child.pid) as memory:
            code = child.wait()
    seconds = time.perf_counter() - started
    if code != 0 or not result.is_file():
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise RuntimeError(f"the training subprocess failed (exit {code}); log {log}:\n{tail}")
    return {"seconds": seconds, "peak_rss_mb": memory.peak_rss / 2**20, "peak_anon_mb": memory.peak_anon / 2**20,
            **json.loads(result.read_text())}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 4, 16], help="multiples of the demo dataset")
    parser.add_argument("--songs", type=int, default=128, help="real songs at 1x (the demo has 128)")
    parser.add_argument("--synthetic", type=int, default=None,
                        help="GAN samples at 1x (default: gan_augmentation.generation.n_synthetic of conf/demo)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--arms", nargs="+", default=["mean", "ridge", "real_only", "gan"],
                        help="arms of `arms:` the pipeline trains (training.arms); default: both baselines, "
                             "a ViT on real songs and one on real + GAN windows")
    parser.add_argument("--repeats", type=int, default=1, help="fresh subprocesses per scale")
    parser.add_argument("--device", default="cpu", help="the pipeline's `device` parameter (host memory is measured)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep inputs and logs here (default: a temp dir)")
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:  # inside the measured subprocess
        (args.worker / "result.json").write_text(json.dumps(run_pipeline(args.worker)))
        return {}

    load = busy_cores()
    params = project_parameters("demo")
    shape = spectrogram_shape("demo")
    synthetic_frames = gan_window(params)  # the GAN's samples are windows of gan_augmentation.window_seconds
    n_synthetic = args.synthetic if args.synthetic is not None else int(
        params["gan_augmentation"]["generation"]["n_synthetic"])
    vit = params["training"]
    vit["arms"] = list(args.arms)
    vit["optimisation"]["epochs"] = args.epochs
    if args.quick:  # 16 x 64 songs, 16 x 40 GAN windows, a 32-frame ViT window: sizes consistent with conf
        args.songs, n_synthetic, shape, synthetic_frames = 20, 16, (16, 64), 40
        extraction = params["data_processing"]["extraction"]
        extraction.update(n_mels=shape[0],
                          duration=(shape[1] - 1) * extraction["hop_length"] / extraction["sample_rate"])
        seconds_per_frame = extraction["hop_length"] / extraction["sample_rate"]
        vit["model"].update(window_seconds=32 * seconds_per_frame, window_stride_seconds=16 * seconds_per_frame,
                            patch_stride=8)
        vit["model"]["vit_config"].update(image_size=16, patch_size=8, hidden_size=16, intermediate_size=32)
        vit["evaluation"]["n_resamples"] = 20
    params = {"seed": args.seed, "device": args.device, "arms": params["arms"], "training": vit,
              "data_processing": params["data_processing"]}

    rows, runs = [], {}
    with tempfile.TemporaryDirectory(prefix="music_emotion_bench_memory_") as tmp:
        work = args.work_dir or Path(tmp)
        for scale in args.scales:
            folder = work / f"x{scale}"
            info = write_inputs(folder, args.songs * scale, n_synthetic * scale, shape, synthetic_frames, params,
                                args.seed)
            results = [measure_run(folder, folder / f"run{r}.log") for r in range(args.repeats)]
            peak_rss = max(r["peak_rss_mb"] for r in results)
            peak_anon = max(r["peak_anon_mb"] for r in results)
            row = Measurement(f"training demo x{scale}: {info['n_songs']} songs + {info['n_synthetic']} GAN",
                              [r["seconds"] for r in results], info["n_songs"] + info["n_synthetic"], "spectrograms",
                              peak_rss)
            row.extra.update({**info, "scale": scale, "peak_anon_rss_mb": peak_anon, "epochs": args.epochs,
                              "spectrogram": list(shape), "synthetic_window": [shape[0], synthetic_frames],
                              "arms": list(args.arms), "load_average_1m_at_start": load,
                              "pipeline_seconds": [r["pipeline_seconds"] for r in results],
                              "outputs": results[0]["outputs"]})
            rows.append(row)
            runs[scale] = row
            print(f"x{scale}: {info['data_mb']:.0f} MB of spectrograms; peak RSS {peak_rss:.0f} MB, "
                  f"peak anonymous RSS {peak_anon:.0f} MB", flush=True)

    ratios, targets = {}, {}
    scales = sorted(runs)
    for low_scale, high_scale in zip(scales, scales[1:], strict=False):
        low, high = runs[low_scale], runs[high_scale]
        grown = high.extra["peak_anon_rss_mb"] - low.extra["peak_anon_rss_mb"]
        added = high.extra["data_mb"] - low.extra["data_mb"]
        ratios[f"x{low_scale} -> x{high_scale}: anonymous RSS growth / added spectrogram MB"] = grown / added
    if len(scales) >= 2:
        low, high = runs[scales[0]], runs[scales[-1]]
        tag = f"x{scales[-1]} / x{scales[0]}"
        ratios[f"spectrogram data {tag}"] = high.extra["data_mb"] / low.extra["data_mb"]
        ratios[f"peak RSS {tag}"] = high.peak_rss_mb / low.peak_rss_mb
        ratios[f"peak anonymous RSS {tag}"] = high.extra["peak_anon_rss_mb"] / low.extra["peak_anon_rss_mb"]
        # Between the two largest scales every batch and read block is full, so what is left is the growth
        # with N itself: loading the data would give >= 1.
        last = ratios[f"x{scales[-2]} -> x{scales[-1]}: anonymous RSS growth / added spectrogram MB"]
        targets[f"x{scales[-2]} -> x{scales[-1]}: anonymous RSS grows < 25% of the added data (memory-mapped)"] = (
            last < 0.25)
    document = report("memory", rows, ratios, targets, args.out_dir)
    return document


if __name__ == "__main__":
    main()
