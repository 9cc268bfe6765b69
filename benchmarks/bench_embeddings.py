"""What the embedding arm's encoder costs at DEAM size: CLAP's audio architecture (random weights, as the rehearsal
env builds it: the LAION checkpoints' HTSAT-tiny at 48 kHz, 10 s windows) over N DEAM-like 45 s clips, through
`embed_songs`, the code path of the `extract_audio_embeddings` node. Reports seconds per song and peak RSS for
two chunk sizes (memory must not grow with the corpus), the projection to DEAM's 1,802 songs, and the disk of the
cached float16 embeddings; then what fitting each probe costs on DEAM-sized cached embeddings (1,802 songs x 4
windows x 512 dims, random values and labels: the cost, not the fit, is measured).

    python benchmarks/bench_embeddings.py [--clips 24] [--repeats 1] [--probe-songs 1802]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_extraction import make_clips  # noqa: E402
from bench_training import project_parameters  # noqa: E402
from harness import measure, report  # noqa: E402

from music_emotion.audio.engine import EngineParams  # noqa: E402
from music_emotion.data.embeddings import window_count  # noqa: E402
from music_emotion.models.audio_encoder import EncoderParams, FrozenAudioEncoder, embed_songs  # noqa: E402

DEAM_SONGS = 1802
DEAM_SPAN_S = 45.0


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "music_emotion_bench_clips")
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--probe-songs", type=int, default=DEAM_SONGS, help="songs of the probe-fit measurement")
    args = parser.parse_args(argv)
    params = project_parameters("rehearsal")
    encoder_params = EncoderParams.from_params(params["data_processing"]["embeddings"])
    encoder = FrozenAudioEncoder(encoder_params, seed=42)
    items = make_clips(args.cache_dir / f"{args.clips}x{DEAM_SPAN_S:g}s", args.clips, DEAM_SPAN_S)
    engine = EngineParams.from_params({**params["dask"], "engine": "single"})
    rows = [measure(f"embed_songs, {chunk} songs per chunk", lambda c=chunk: embed_songs(
        items, encoder, DEAM_SPAN_S, 0.0, "soxr_hq", c, engine), len(items), "songs", args.repeats, warmup=0,
        track_rss=True) for chunk in (2, max(2, args.clips // 2))]
    rows += probe_fits(params["training"]["probe"], args.probe_songs, window_count(DEAM_SPAN_S, encoder.window_seconds),
                       encoder.dim, args.repeats)
    per_song = 1.0 / rows[0].summary()["rate_median"]
    windows = window_count(DEAM_SPAN_S, encoder.window_seconds)
    ratios = {"peak RSS, larger chunk / smaller chunk": rows[1].summary()["peak_rss_mb"]
              / rows[0].summary()["peak_rss_mb"],
              "projected minutes for 1,802 songs (this CPU)": per_song * DEAM_SONGS / 60,
              "cached float16 MB for 1,802 songs": DEAM_SONGS * windows * encoder.dim * 2 / 2**20}
    print(f"{windows} windows of {encoder.window_seconds:g} s per song, {encoder.dim}-d embeddings, "
          f"{sum(p.numel() for p in encoder.model.parameters()) / 1e6:.1f} M encoder parameters")
    return report("embeddings", rows, ratios, {}, args.out_dir)


def probe_fits(probe: dict, n_songs: int, n_windows: int, dim: int, repeats: int) -> list:
    """Seconds to fit each probe (`fit_embedding_probe`, every alpha / weight decay of conf/base) on cached
    embeddings of `n_songs` songs, split 70/15/15 as data_processing splits."""
    import numpy as np
    import pandas as pd

    from music_emotion.data.spectrograms import SpectrogramSet
    from music_emotion.study.probe import fit_embedding_probe

    rng = np.random.default_rng(0)
    ids = list(range(n_songs))
    embeddings = SpectrogramSet(ids=ids, values=rng.normal(size=(n_songs, n_windows, dim)).astype(np.float16),
                                meta={"extraction": {"checkpoint": None}, "valid_frames": [n_windows] * n_songs})
    labels = pd.DataFrame({"song_id": ids, "valence": rng.uniform(-1, 1, n_songs),
                           "arousal": rng.uniform(-1, 1, n_songs)})
    n_train, n_val = int(0.7 * n_songs), int(0.15 * n_songs)
    splits = {"train": ids[:n_train], "val": ids[n_train:n_train + n_val], "test": ids[n_train + n_val:]}
    return [measure(f"{kind} probe fit, {n_songs} songs x {n_windows} windows x {dim}", lambda k=kind: (
        fit_embedding_probe(embeddings, labels, splits, probe, {"probe": k}, 0)), 1, "fits", repeats, warmup=0,
        track_rss=True) for kind in ("ridge", "mlp")]


if __name__ == "__main__":
    main()
