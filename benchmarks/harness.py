"""Shared benchmark plumbing: repeats with min/median/max, peak RSS of a process tree, table + JSON.

Ratios are always measured side by side in one run of one script, never against stored numbers.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

RESULTS_DIR = Path(__file__).resolve().parent / "results"


class PeakRSS:
    """Samples the summed RSS of this process and all its children (e.g. joblib workers)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self.peak = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())


@dataclass
class Measurement:
    name: str
    seconds: list[float]
    work: float                   # units of work per repeat (clips, batches, images)
    unit: str
    peak_rss_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rates(self) -> list[float]:
        return [self.work / s for s in self.seconds]

    def summary(self) -> dict[str, Any]:
        rates = self.rates
        return {
            "name": self.name, "unit": f"{self.unit}/s", "repeats": len(rates),
            "rate_min": min(rates), "rate_median": statistics.median(rates), "rate_max": max(rates),
            "seconds_median": statistics.median(self.seconds), "peak_rss_mb": self.peak_rss_mb, **self.extra,
        }


def measure(name: str, fn: Callable[[], Any], work: float, unit: str, repeats: int = 3, warmup: int = 1,
            track_rss: bool = False) -> Measurement:
    """Time `fn` `repeats` times after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    seconds, peak = [], 0
    for _ in range(repeats):
        if track_rss:
            with PeakRSS() as rss:
                start = time.perf_counter()
                fn()
                seconds.append(time.perf_counter() - start)
            peak = max(peak, rss.peak)
        else:
            start = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - start)
    return Measurement(name, seconds, work, unit, peak / 2**20 if track_rss else None)


def machine() -> dict[str, Any]:
    import torch

    return {
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1), "python": platform.python_version(),
        "torch": torch.__version__, "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
    }


def report(benchmark: str, rows: list[Measurement], ratios: dict[str, float], targets: dict[str, bool],
           out_dir: Path | None = None) -> dict[str, Any]:
    """Print a table and write `results/<benchmark>.json`; returns the JSON document."""
    summaries = [r.summary() for r in rows]
    print(f"\n{benchmark}  ({machine()['cores']} cores, {machine()['date']})")
    print(f"{'variant':44s} {'min':>9s} {'median':>9s} {'max':>9s}  unit       peak RSS")
    for s in summaries:
        rss = f"{s['peak_rss_mb']:.0f} MB" if s["peak_rss_mb"] is not None else "-"
        print(f"{s['name']:44s} {s['rate_min']:9.2f} {s['rate_median']:9.2f} {s['rate_max']:9.2f}  "
              f"{s['unit']:10s} {rss}")
    for key, value in ratios.items():
        print(f"ratio  {key:50s} {value:6.2f}x")
    for key, ok in targets.items():
        print(f"target {key:50s} {'met' if ok else 'NOT met'}")
    document = {"benchmark": benchmark, "machine": machine(), "results": summaries, "ratios": ratios,
                "targets": targets}
    out_dir = out_dir or RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{benchmark}.json").write_text(json.dumps(document, indent=2))
    return document


def mel_config(**overrides: Any):
    """conf/base's `data_processing.extraction` as a MelConfig with some values changed (benchmarks run as scripts,
    so they read conf themselves rather than through tests/)."""
    import yaml

    from music_emotion.audio.log_mel import MelConfig

    conf = Path(__file__).resolve().parents[1] / "conf" / "base" / "parameters_data_processing.yml"
    return MelConfig.from_params({**yaml.safe_load(conf.read_text())["data_processing"]["extraction"], **overrides})
