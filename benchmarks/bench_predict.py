"""Your songs without Kedro: `music-emotion predict` vs the inference pipeline on the same files and model, the
cold start of one prediction, and the web page's answer time. Side by side in one run, fresh processes.

    python benchmarks/bench_predict.py            # 20 x 45 s mp3s, the demo's `gan` arm (~3 min on 2 cores)
    python benchmarks/bench_predict.py --quick    # 3 files: checks the script runs

Needs the demo models (`kedro run --env demo` first). Targets (issue: your songs without learning Kedro): predict
within 1.2x the pipeline's time; cold start of `music-emotion predict one.mp3 --model <folder>` <= 10 s; the page
answers a 45 s mp3 in <= 3 s after start.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_extraction import make_clips  # noqa: E402
from harness import Measurement, report  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "MUSIC_EMOTION_NO_PROGRESS": "1", "KEDRO_DISABLE_TELEMETRY": "true",
       "GRADIO_ANALYTICS_ENABLED": "False"}


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def import_breakdown(folder: Path, song: str) -> dict[str, float]:
    """Seconds spent importing the heavy modules in a cold `predict` (python -X importtime, cumulative)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "music_emotion", "predict", song, "--model",
                           str(folder)], cwd=folder.parent, env=ENV, capture_output=True, text=True)
    cumulative = {}
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if match and match.group(3) in ("torch", "transformers", "librosa", "pandas", "music_emotion.serving.cli",
                                         "transformers.models.vit.modeling_vit", "scipy.signal", "soundfile"):
            cumulative[match.group(3)] = max(cumulative.get(match.group(3), 0.0), int(match.group(1)) / 1e6)
    return cumulative


def page_latency(folder: Path, song: str, repeats: int) -> list[float]:
    from gradio_client import Client, handle_file

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = subprocess.Popen([sys.executable, "-m", "music_emotion", "app", "--model", str(folder), "--port", str(port)],
                           cwd=folder.parent, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        client.predict([handle_file(song)], api_name="/run")  # warm-up (first request builds the figures' fonts)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            client.predict([handle_file(song)], api_name="/run")
            times.append(time.perf_counter() - started)
        return times
    finally:
        app.terminate()
        app.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    n, seconds, repeats = (3, 6.0, 1) if args.quick else (20, 45.0, args.repeats)
    work = Path(tempfile.mkdtemp(prefix="bench_predict_"))
    clips = make_clips(PROJECT / "benchmarks" / "results" / f"predict_clips_{n}_{seconds:g}", n, seconds)
    songs = work / "songs"
    songs.mkdir()
    for _, path in clips:
        shutil.copy(path, songs)
    folder = work / "exported_gan"
    kedro = str(Path(sys.executable).with_name("kedro"))
    cli = [sys.executable, "-m", "music_emotion"]
    timed([*cli, "export", "gan", str(folder), "--env", "demo"], PROJECT)

    pipeline_times, predict_times, folder_times = [], [], []
    for _ in range(repeats):  # alternating, so a noisy minute hits both
        pipeline_times.append(timed([kedro, "run", "--env", "demo", "--pipelines", "inference", "--params",
                                     f"inference.input_dir={songs},inference.resume=false,tracking.enabled=false"],
                                    PROJECT))
        predict_times.append(timed([*cli, "predict", str(songs), "--model", "gan", "--env", "demo"], PROJECT))
        folder_times.append(timed([*cli, "predict", str(songs), "--model", str(folder)], work))
    cold = [timed([*cli, "predict", clips[0][1], "--model", str(folder)], work) for _ in range(max(2, repeats))]
    page = page_latency(folder, clips[0][1], 3 if not args.quick else 1)
    imports = import_breakdown(folder, clips[0][1])

    rows = [Measurement("kedro run --pipelines inference", pipeline_times, n, "file"),
            Measurement("music-emotion predict --model gan (project)", predict_times, n, "file"),
            Measurement("music-emotion predict --model <exported folder>", folder_times, n, "file"),
            Measurement("cold start: predict one.mp3 --model <folder>", cold, 1, "file"),
            Measurement("web page: one 45 s mp3 after start", page, 1, "file")]
    median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    ratios = {"predict_vs_pipeline_time": median(predict_times) / median(pipeline_times),
              "folder_predict_vs_pipeline_time": median(folder_times) / median(pipeline_times),
              **{f"import_s.{k}": v for k, v in imports.items()}}
    targets = {"predict within 1.2x the pipeline": ratios["predict_vs_pipeline_time"] <= 1.2,
               "cold start <= 10 s": median(cold) <= 10.0, "page <= 3 s": median(page) <= 3.0}
    print(f"{n} x {seconds:g} s mp3s, demo gan arm; median seconds: " + ", ".join(
        f"{r.name}: {sorted(r.seconds)[len(r.seconds) // 2]:.2f}" for r in rows))
    report("predict", rows, ratios, targets)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
