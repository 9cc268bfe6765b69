"""Extraction throughput and memory: the project's parallel extraction vs the seed's sequential loop.

Generates N 45 s 44.1 kHz stereo mp3 clips (cached), then measures side by side in one run:
  - seed: a sequential loop of librosa.load + melspectrogram + power_to_db (the notebook's way);
  - project: `audio.extract_many`, the code path of the extract_mel_spectrograms node;
  - decode floor: just decoding the same windows in parallel with the same number of workers.

    python benchmarks/bench_extraction.py [--clips 100] [--repeats 3] [--n-jobs -1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (  # noqa: E402
    measure,
    mel_config,  # noqa: E402
    report,
)

from music_emotion.audio.decoding import decode_audio, extract_clip
from music_emotion.audio.engine import EngineParams  # noqa: E402
from music_emotion.audio.extraction import extract_many  # noqa: E402
from music_emotion.audio.log_mel import MelConfig


def make_clips(folder: Path, n: int, seconds: float = 45.0, rate: int = 44100) -> list[tuple[str, str]]:
    """DEAM-like clips (45 s, 44.1 kHz, stereo mp3) of synthesised music, written once and reused."""
    from bench_training import project_parameters
    from joblib import Parallel, delayed

    from music_emotion.datasets.audio_folder_dataset import _write_audio
    from music_emotion.pipelines.demo_data.synthesis import demo_song

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    cues = project_parameters(None)["demo_data"]["cues"]
    todo = [(folder / f"{i}.mp3", demo_song(i, *rng.uniform(-1, 1, 2), seconds, rate, 2, 0, cues)) for i in range(n)]
    Parallel(n_jobs=-1)(delayed(_write_audio)(path, song) for path, song in todo if not path.exists())
    release_workers()
    return [(path.stem, str(path)) for path, _ in todo]


def seed_loop(items: list[tuple[str, str]], config: MelConfig) -> np.ndarray:
    """The notebook's way: one file after another, librosa's default loader."""
    import librosa

    out = np.empty((len(items), config.n_mels, config.n_frames), dtype=np.float32)
    for row, (_, path) in enumerate(items):
        y, sr = librosa.load(path, sr=config.sample_rate, duration=config.duration)
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=config.n_fft, hop_length=config.hop_length,
                                             n_mels=config.n_mels)
        db = librosa.power_to_db(mel, ref=np.max)
        width = min(db.shape[1], config.n_frames)
        out[row] = -80.0
        out[row, :, :width] = db[:, :width]
    return out


def release_workers() -> None:
    """Stop joblib's reusable worker pool so the next variant's memory is its own."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def joblib_extract(items: list[tuple[str, str]], config: MelConfig, n_jobs: int) -> np.ndarray:
    """The extraction node's previous engine: joblib/loky processes over the same per-file function."""
    from joblib import Parallel, delayed

    out = np.empty((len(items), config.n_mels, config.n_frames), dtype=np.float32)
    parallel = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=4, prefer="processes")
    for row, result in enumerate(parallel(delayed(extract_clip)(key, path, config) for key, path in items)):
        if result.spectrogram is not None:
            out[row] = result.spectrogram
    return out


def _decode_length(path: str, config: MelConfig) -> int:
    return len(decode_audio(path, config.sample_rate, config.offset, config.duration))


def decode_floor(items: list[tuple[str, str]], config: MelConfig, n_jobs: int) -> None:
    """Decoding (and resampling) the same windows in parallel, nothing else: the limit for extraction.

    Workers return only the length, so the floor pays no cost for shipping audio back.
    """
    from joblib import Parallel, delayed

    Parallel(n_jobs=n_jobs, batch_size=4)(delayed(_decode_length)(path, config) for _, path in items)


def crossover(sizes: list[int], seconds: float, repeats: int, cache_dir: Path, out_dir: Path | None) -> dict:
    """One process vs a cold Dask LocalCluster at each size: where Dask starts to pay (`dask.engine: auto`).

    Fits time = start + audio_seconds / rate to each engine (least squares over the sizes) and reports the audio
    duration at which the two lines cross: the `dask.min_audio_seconds` that `auto` uses."""
    config = mel_config(duration=30.0)
    single = EngineParams(engine="single", scheduler_address=None, n_workers=None, connect_timeout_s=5,
                          min_audio_seconds=0.0)
    dask = EngineParams(engine="dask", scheduler_address=None, n_workers=None, connect_timeout_s=5,
                        min_audio_seconds=0.0)
    rows, fits = [], {}
    for n in sizes:
        items = make_clips(cache_dir / f"{n}x{seconds:g}s", n, seconds)
        for name, engine in (("one process", single), ("Dask LocalCluster, cold", dask)):
            rows.append(measure(f"{name}, {n} clips", lambda e=engine, i=items: extract_many(i, config, e), n, "clips",
                                repeats, warmup=0, track_rss=True))
    audio = np.array([n * seconds for n in sizes], dtype=float)
    for k, name in enumerate(("single", "dask")):
        times = np.array([rows[2 * i + k].summary()["seconds_median"] for i in range(len(sizes))])
        slope, start = np.polyfit(audio, times, 1)
        fits[name] = {"start_s": float(start), "seconds_per_audio_second": float(slope)}
    gain = fits["single"]["seconds_per_audio_second"] - fits["dask"]["seconds_per_audio_second"]
    crossing = (fits["dask"]["start_s"] - fits["single"]["start_s"]) / gain if gain > 0 else float("inf")
    ratios = {f"dask / one process throughput at {n} clips": rows[2 * i + 1].summary()["rate_median"]
              / rows[2 * i].summary()["rate_median"] for i, n in enumerate(sizes)}
    ratios["crossover audio seconds (fit)"] = crossing
    print(f"fits: {fits}; Dask pays from about {crossing:,.0f} s of audio "
          f"({crossing / seconds:,.0f} clips of {seconds:g} s)")
    return report("extraction_crossover", rows, ratios, {"a crossover exists": bool(np.isfinite(crossing))}, out_dir)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=45.0, help="length of each generated clip")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "music_emotion_bench_clips")
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--crossover", type=int, nargs="+", metavar="N", default=None,
                        help="measure one process vs a cold Dask cluster at these sizes (e.g. 100 500 1800) instead")
    args = parser.parse_args(argv)
    if args.crossover:
        return crossover(args.crossover, args.seconds, args.repeats, args.cache_dir, args.out_dir)

    config = mel_config(duration=30.0)
    items = make_clips(args.cache_dir / f"{args.clips}x{args.seconds:g}s", args.clips, args.seconds)
    n = len(items)
    seed = measure("seed: sequential librosa.load loop", lambda: seed_loop(items, config), n, "clips",
                   args.repeats, track_rss=True)
    workers = None if args.n_jobs < 1 else args.n_jobs
    engine = EngineParams(engine="dask", scheduler_address=None, n_workers=workers, connect_timeout_s=5,
                          min_audio_seconds=0.0)
    project = measure("project: extract_many on a Dask LocalCluster (started in every repeat)",
                      lambda: extract_many(items, config, engine), n, "clips", args.repeats, track_rss=True)
    # Both engines start cold in every repeat, as each does once per pipeline run (worker processes, imports)
    joblib_path = measure(f"joblib: the previous engine, pool started in every repeat (n_jobs={args.n_jobs})",
                          lambda: (release_workers(), joblib_extract(items, config, args.n_jobs)), n, "clips",
                          args.repeats, track_rss=True)
    release_workers()
    floor = measure(f"decode-only floor (n_jobs={args.n_jobs})", lambda: decode_floor(items, config, args.n_jobs), n,
                    "clips", args.repeats, track_rss=True)
    speedup = project.summary()["rate_median"] / seed.summary()["rate_median"]
    to_floor = floor.summary()["rate_median"] / project.summary()["rate_median"]
    dask_vs_joblib = project.summary()["rate_median"] / joblib_path.summary()["rate_median"]
    ratios = {"project / seed throughput": speedup, "decode floor / project (time ratio)": to_floor,
              "Dask / joblib throughput": dask_vs_joblib}
    targets = {
        ">= 1.8x the sequential loop": speedup >= 1.8,
        ">= 15 clips/s": project.summary()["rate_median"] >= 15,
        "within 1.3x of the decode-only floor": to_floor <= 1.3,
        "Dask no slower than the previous joblib engine": dask_vs_joblib >= 1.0,
    }
    return report("extraction", [seed, project, joblib_path, floor], ratios, targets, args.out_dir)


if __name__ == "__main__":
    main()
