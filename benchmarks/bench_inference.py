"""Inference latency: one 45 s 44.1 kHz stereo mp3 -> valence/arousal on CPU with ViT-B/16.

Times `EmotionModel.predict` on one process (the prediction loop the inference node, the command and the page
share; `min_window_fraction` and `batch_size` from conf/base/parameters_inference.yml), end to end: decode + resample
+ log-mel of every stored-span chunk (conf/base: 45 s, so a 45 s file is one chunk) + every model window
of it (conf/base: 10 s windows 5 s apart = 9 windows) through the batched ViT forward and the song-level
average (`predict_songs`). The model is ViT-B/16 (hidden 768, 12 layers, 12 heads, MLP 3072, patch 16, 224)
built with `build_vit_regressor` from the conf/base `training.model` parameters (input mode,
`patch_stride`, normalisation, window) with random weights (the timing does not depend on them) and the
conf/base extraction settings. The two stages are also timed on their own (decode + log-mel; forward).

    python benchmarks/bench_inference.py [--repeats 5] [--seconds 45] [--input-mode native]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_extraction import make_clips  # noqa: E402
from bench_training import VIT_B16, busy_cores, input_normalisation, project_parameters, vit_window  # noqa: E402
from harness import (  # noqa: E402
    Measurement,
    measure,
    mel_config,  # noqa: E402
    report,
)

from music_emotion.audio.decoding import iter_windows
from music_emotion.audio.log_mel import MelConfig
from music_emotion.models.runtime import resolve_device, seed_everything  # noqa: E402
from music_emotion.models.song_prediction import predict_songs  # noqa: E402
from music_emotion.models.vit_regression import ViTModelParams, build_vit_regressor  # noqa: E402
from music_emotion.serving.model_folder import PredictionSettings  # noqa: E402
from music_emotion.serving.predictor import EmotionModel  # noqa: E402

TINY_VIT = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
            "patch_size": 16, "image_size": 64}


def add_latency(row: Measurement) -> None:
    row.extra.update({"latency_s_min": min(row.seconds), "latency_s_median": statistics.median(row.seconds),
                      "latency_s_max": max(row.seconds)})


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=45.0, help="length of the mp3")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--input-mode", default=None, choices=["resize", "native"],
                        help="default: training.model.input_mode of conf/base")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="a 4 s clip and a tiny ViT (smoke test)")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "music_emotion_bench_clips")
    parser.add_argument("--out-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.repeats = 4.0, 1

    load = busy_cores()
    if args.threads:
        torch.set_num_threads(args.threads)
    params = project_parameters(None)
    extraction = MelConfig.from_params(params["data_processing"]["extraction"])
    window = vit_window(params)  # (frames, stride) of the conf/base ViT window
    if args.quick:  # 2 s stored chunks, each one model window
        extraction = mel_config(duration=2.0, n_mels=32)
        window = (extraction.n_frames, extraction.n_frames)
    model_conf = copy.deepcopy(params["training"]["model"])
    model_conf.update(checkpoint=None, vit_config=dict(TINY_VIT if args.quick else VIT_B16, attn_implementation="sdpa"))
    if args.input_mode:
        model_conf["input_mode"] = args.input_mode
    model_params = ViTModelParams.from_params(model_conf)
    inference = params["inference"]
    seed_everything(args.seed)
    model = build_vit_regressor(model_params, extraction.to_dict(),
                                input_normalisation(model_params, (extraction.floor_db, 0.0)), window).eval()
    (_, path), = make_clips(args.cache_dir / f"1x{args.seconds:g}s", 1, args.seconds)
    cpu = resolve_device("cpu")
    settings = PredictionSettings(min_window_fraction=float(inference["min_window_fraction"]),
                                  batch_size=int(inference["batch_size"]), files_per_batch=1, rating_scale=(1.0, 9.0))
    emotion = EmotionModel(model, settings, name="random ViT-B/16", device="cpu")  # one process: ONE_PROCESS

    n_windows = emotion.predict(path).n_windows  # also the warm-up
    chunks = list(iter_windows(path, extraction, inference["min_window_fraction"]))
    spectrograms = np.stack([chunk[1] for chunk in chunks])
    valid_frames = np.asarray([chunk[3] for chunk in chunks])

    end_to_end = measure(f"end to end: {args.seconds:g} s mp3 -> V/A ({n_windows} windows)",
                         lambda: emotion.predict(path), 1, "files", args.repeats)
    decode = measure("  decode + log-mel (iter_windows)",
                     lambda: list(iter_windows(path, extraction, inference["min_window_fraction"])), 1, "files",
                     args.repeats)
    forward = measure(f"  ViT forward ({n_windows} windows, {model_params.input_mode}, predict_songs)",
                      lambda: predict_songs(model, spectrograms, np.arange(len(spectrograms)), valid_frames,
                                            int(inference["batch_size"]), cpu), 1, "files", args.repeats)
    rows = [end_to_end, decode, forward]
    for row in rows:
        add_latency(row)
        row.extra.update({"clip_seconds": args.seconds, "chunks": len(chunks), "windows": n_windows,
                          "window_frames": model.window_frames, "window_stride": model.window_stride,
                          "torch_threads": torch.get_num_threads(),
                          "model": "tiny ViT (quick)" if args.quick else "ViT-B/16, random weights",
                          "input_mode": model_params.input_mode, "load_average_1m_at_start": load})
    median = end_to_end.extra["latency_s_median"]
    ratios = {"decode share of end-to-end latency": decode.extra["latency_s_median"] / median,
              "forward share of end-to-end latency": forward.extra["latency_s_median"] / median}
    targets = {f"< 2 s per {args.seconds:g} s file on CPU (median)": median < 2.0}
    document = report("inference", rows, ratios, targets, args.out_dir)
    for s in document["results"]:
        print(f"  latency {s['name']:44s} min {s['latency_s_min']:.3f} s  median {s['latency_s_median']:.3f} s  "
              f"max {s['latency_s_max']:.3f} s")
    return document


if __name__ == "__main__":
    main()
