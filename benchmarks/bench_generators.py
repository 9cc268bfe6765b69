"""Does a generator carry its labels on music it was not tuned on? The GAN and the flow-matching ("diffusion")
generator over seeds on two corpora.

The demo corpus (the one the demo recipe was tuned on) and a second corpus, never tuned on: `demo_data` with
another generator seed and another mix of cues, so valence rests mostly on mode and chord progression (register
0.4, brightness 0.4, loudness 0.5, tempo 1.0). For each generator, corpus and seed: the split, the generator and its
samples drawn from that seed (`kedro run --env demo --from-nodes split_songs --to-nodes assess_gan_quality
--params seed=S`, or `assess_diffusion_quality`), then from its quality report: the ridge probe's conditioning CCC
(for the GAN, the one that chose the checkpoint; the flow is selected by nothing), the independent reader's
(gradient-boosted trees on spectro-temporal features, never used in training or selection) beside its CCC on real
VAL songs, and the Fréchet ratio. Medians and ranges over seeds.

    python benchmarks/bench_generators.py                 # both generators x 2 corpora x seeds 42, 1, 2 (~40 min)
    python benchmarks/bench_generators.py --generators diffusion --seeds 42
    python benchmarks/bench_generators.py --generators gan --label film \
        --params gan_augmentation.generator.conditioning=film   # a variant, on both corpora and every seed

Runs in temporary copies of the project (tracking off), so the checkout's data and conf are untouched.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_tracking  # noqa: E402
from harness import RESULTS_DIR, machine  # noqa: E402

CORPORA = {
    "demo": "",
    "second": ("seed=7,demo_data.cues.register=0.4,demo_data.cues.brightness=0.4,demo_data.cues.loudness=0.5,"
               "demo_data.cues.tempo=1.0"),
}
GENERATORS = ("gan", "diffusion")


def quality_path(generator: str) -> Path:
    return Path(f"data/demo/08_reporting/{generator}_quality.json")


def newest(project: Path, relative: Path) -> dict[str, Any]:
    versions = sorted((project / relative).iterdir())
    return json.loads((versions[-1] / relative.name).read_text())


def reading(quality: dict[str, Any]) -> dict[str, float]:
    probe = quality["conditioning_fidelity_ccc"]["train_real_test_synthetic"]
    reader = quality["independent_reader"]
    row = {"frechet_ratio": quality["frechet_distance"]["ratio_to_floor"]}
    for target in ("valence", "arousal"):
        row[f"probe_{target}"] = probe[target]
        row[f"reader_{target}"] = reader[target]["conditioning_ccc"]
        row[f"reader_real_{target}"] = reader[target]["real_ccc"]
        row[f"carried_{target}"] = reader[target]["carried"]
    return row


def corpus_runs(corpus: str, seeds: list[int], generators: list[str], params: str = "") -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix=f"bench_generators_{corpus}_") as folder:
        project = Path(folder)
        bench_tracking.copy_project(project)
        (project / "conf" / "local" / "parameters.yml").write_text("tracking:\n  enabled: false\n")
        data = ["--params", CORPORA[corpus]] if CORPORA[corpus] else []
        bench_tracking.kedro(project, "run", "--env", "demo", "--pipelines", "demo_data", *data)
        bench_tracking.kedro(project, "run", "--env", "demo", "--pipelines", "data_processing")
        rows = []
        for generator in generators:
            for seed in seeds:
                seconds = bench_tracking.kedro(project, "run", "--env", "demo", "--from-nodes", "split_songs",
                                               "--to-nodes", f"assess_{generator}_quality", "--params",
                                               ",".join(filter(None, [f"seed={seed}", params])))
                rows.append({"generator": generator, "corpus": corpus, "seed": seed, "seconds": round(seconds, 1),
                             **reading(newest(project, quality_path(generator)))})
                print(json.dumps(rows[-1]), flush=True)
        return rows


def summary(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| generator | corpus | seeds | probe CCC V / A | independent reader CCC V / A | reader on real VAL V / A "
             "| Fréchet ratio | seconds |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for generator, corpus in ((g, c) for g in GENERATORS for c in CORPORA):
        mine = [r for r in rows if r["corpus"] == corpus and r.get("generator", "gan") == generator]
        if not mine:
            continue

        def cell(key: str, mine: list[dict[str, Any]] = mine) -> str:
            values = [r[key] for r in mine]
            return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"

        lines.append(f"| {generator} | {corpus} | {' / '.join(str(r['seed']) for r in mine)} | "
                     f"{cell('probe_valence')} / {cell('probe_arousal')} | {cell('reader_valence')} / "
                     f"{cell('reader_arousal')} | {cell('reader_real_valence')} / {cell('reader_real_arousal')} | "
                     f"{cell('frechet_ratio')} | {cell('seconds')} |")
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=list(CORPORA))
    parser.add_argument("--generators", nargs="+", default=list(GENERATORS), choices=list(GENERATORS))
    parser.add_argument("--params", default="", help="extra kedro --params for every generator run (a variant)")
    parser.add_argument("--label", default="", help="names the variant in the results file")
    args = parser.parse_args(argv)
    rows = [row for corpus in args.corpora for row in corpus_runs(corpus, args.seeds, args.generators, args.params)]
    result = {"machine": machine(), "params": args.params, "rows": rows, "table": summary(rows)}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    name = "_".join(filter(None, ["bench_generators", *args.generators, args.label]))
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(result, indent=2))
    print("\n".join(result["table"]))
    return result


if __name__ == "__main__":
    main()
