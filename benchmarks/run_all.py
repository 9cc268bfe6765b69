"""Run every benchmark, each in a fresh process, then write the README's Performance tables.

    python benchmarks/run_all.py                 # all of them (about 10-15 minutes on 2 CPU cores)
    python benchmarks/run_all.py --only training inference
    python benchmarks/run_all.py --quick         # tiny sizes: checks that the scripts run, numbers mean nothing

Each script prints its table and writes results/<name>.json; this script then renders all the JSON files
as Markdown (results/performance_tables.md by default) with the machine and the date they were taken on,
ready to paste into the README's Performance section.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
BENCHMARKS = {  # name -> (script, arguments for --quick)
    "extraction": ("bench_extraction.py", ["--clips", "3", "--seconds", "2", "--repeats", "1", "--n-jobs", "2"]),
    "data_path": ("bench_data_path.py", ["--quick"]),
    "training": ("bench_training.py", ["--quick"]),
    "memory": ("bench_memory.py", ["--quick", "--scales", "1", "2"]),
    "inference": ("bench_inference.py", ["--quick"]),
    "ast": ("bench_ast.py", ["--quick"]),
}
PER_SCRIPT_TIMEOUT_S = 600  # the bound: each script finishes within 10 minutes on 2 cores
WHAT = {
    "extraction": "clips/s of the extraction node vs the seed's sequential librosa loop, and the decode-only floor",
    "data_path": "batches/s from memory-mapped songs to cropped, normalised 3-channel 224 x 224 ViT batches",
    "training": "train-step images/s (forward + backward + optimiser); MFU on a GPU only",
    "memory": "peak RSS of the whole training pipeline (demo env, 1 epoch) at 1x, 4x and 16x the data",
    "inference": "latency of one 45 s mp3 -> valence/arousal with ViT-B/16 on CPU",
    "ast": "AST train-step windows/s next to the ViT's on the same device (the cost of `model: ast`)",
}


def run(names: list[str], quick: bool, out_dir: Path) -> dict[str, dict[str, Any]]:
    """Each script in its own interpreter, so one's memory or threads never colour the next one's numbers."""
    status = {}
    for name in names:
        script, quick_args = BENCHMARKS[name]
        command = [sys.executable, str(HERE / script), "--out-dir", str(out_dir), *(quick_args if quick else [])]
        print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        try:
            code = subprocess.run(command, timeout=PER_SCRIPT_TIMEOUT_S, check=False).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        seconds = time.perf_counter() - started
        status[name] = {"exit": code, "seconds": round(seconds, 1)}
        print(f"=== {name}: exit {code} after {seconds:.0f} s", flush=True)
    return status


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"


def render_markdown(documents: dict[str, dict[str, Any]]) -> str:
    """The Performance tables: one per benchmark, its ratios and targets, and where it was measured."""
    lines = []
    for name, doc in documents.items():
        m = doc["machine"]
        where = (f"{m['cores']}-core CPU ({m['cpu']}, {m['memory_gb']} GB)"
                 + (f", GPU {m['cuda']}" if m["cuda"] else ", no GPU"))
        script = BENCHMARKS.get(name, (f"bench_{name}.py",))[0]
        load = next((r["load_average_1m_at_start"] for r in doc["results"] if r.get("load_average_1m_at_start")), None)
        busy = (f" Load average at start: {load:g} (other jobs on the machine)."
                if load and load > 0.5 * m["cores"] else "")
        lines += [f"#### {name}: {WHAT.get(name, '')}", "",
                  f"`python benchmarks/{script}` on {where}, {m['date']}, torch {m['torch']}.{busy}", "",
                  "| variant | min | median | max | unit | peak RSS |", "|---|---:|---:|---:|---|---:|"]
        for row in doc["results"]:
            rss = f"{row['peak_rss_mb']:,.0f} MB" if row.get("peak_rss_mb") is not None else "-"
            lines.append(f"| {row['name'].strip()} | {_number(row['rate_min'])} | {_number(row['rate_median'])} | "
                         f"{_number(row['rate_max'])} | {row['unit']} | {rss} |")
        extras = _extra_lines(name, doc)
        if extras:
            lines += ["", *extras]
        if doc["ratios"] or doc["targets"]:
            lines.append("")
        lines += [f"- {key}: **{value:.2f}x**" for key, value in doc["ratios"].items()]
        lines += [f"- target {key}: **{'met' if ok else 'NOT met'}**" for key, ok in doc["targets"].items()]
        lines.append("")
    return "\n".join(lines)


def _extra_lines(name: str, doc: dict[str, Any]) -> list[str]:
    rows = doc["results"]
    if name == "training":
        out = ["| variant | model GFLOP/image | achieved TFLOP/s | MFU |", "|---|---:|---:|---:|"]
        for r in rows:
            mfu = f"{100 * r['mfu_median']:.1f} %" if r.get("mfu_median") is not None else "n/a (CPU)"
            out.append(f"| {r['name']} | {r['model_gflop_per_image']:.2f} | "
                       f"{r['achieved_tflops_median']:.3f} | {mfu} |")
        return out
    if name == "inference":
        out = ["| stage | min | median | max |", "|---|---:|---:|---:|"]
        out += [f"| {r['name'].strip()} | {r['latency_s_min']:.2f} s | {r['latency_s_median']:.2f} s | "
                f"{r['latency_s_max']:.2f} s |" for r in rows]
        return out
    if name == "memory":
        out = ["| scale | spectrograms (MB on disk) | peak RSS | peak anonymous RSS |", "|---|---:|---:|---:|"]
        out += [f"| x{r['scale']} | {r['n_songs'] + r['n_synthetic']} ({r['data_mb']:.0f} MB) | "
                f"{r['peak_rss_mb']:,.0f} MB | {r['peak_anon_rss_mb']:,.0f} MB |" for r in rows]
        return out
    return []


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run; the numbers mean nothing)")
    parser.add_argument("--no-run", action="store_true", help="only render the tables from existing JSON results")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--markdown", type=Path, default=None,
                        help="where to write the tables (default: <out-dir>/performance_tables.md)")
    args = parser.parse_args(argv)

    status = {} if args.no_run else run(args.only, args.quick, args.out_dir)
    documents = {name: json.loads((args.out_dir / f"{name}.json").read_text())
                 for name in args.only if (args.out_dir / f"{name}.json").is_file()}
    markdown_path = args.markdown or args.out_dir / "performance_tables.md"
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    markdown_path.write_text(render_markdown(documents))
    print(f"\nTables for the README: {markdown_path}")
    for name, s in status.items():
        print(f"  {name:12s} exit {s['exit']}  {s['seconds']:6.0f} s")
    failed = [name for name, s in status.items() if s["exit"] != 0]
    if failed and argv is None:
        sys.exit(f"benchmarks failed: {failed}")
    return {"status": status, "documents": documents, "markdown": markdown_path}


if __name__ == "__main__":
    main()
