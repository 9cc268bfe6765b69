"""The notebook's GAN recipe and the project's default recipe, side by side on the same data and seed.

For each recipe: `train_gan` wall time, then `generate_synthetic_spectrograms` + `assess_synthetic_quality` (the
pipeline's own nodes): conditioning CCC (a ridge fit on real TRAIN windows reads the samples' V/A back),
TSTR CCC on real VAL songs (a ridge fit on the samples alone), the Fréchet ratio to the real-vs-real floor and
the diversity ratio. The notebook recipe is conf/gan_recipes/notebook.yml applied over the env's parameters.

    kedro run --env demo --pipelines demo_data && kedro run --env demo --pipelines data_processing
    python benchmarks/bench_gan_recipes.py            # the demo data and conf/demo, 2 CPU cores: ~8 min
    python benchmarks/bench_gan_recipes.py --quick    # generated toy songs, seconds (the smoke test)
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import RESULTS_DIR, machine  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        merged[key] = (merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict)
                       else value)
    return merged


def load_inputs(env: str) -> tuple[Any, Any, Any, dict[str, Any], int]:
    """(mel_spectrograms, emotion_labels, song_splits, gan_augmentation params, seed) from the project's catalog."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT)
    with KedroSession.create(project_path=PROJECT, env=env) as session:
        context = session.load_context()
        catalog = context.catalog
        data = [catalog.load(name) for name in ("mel_spectrograms", "emotion_labels", "song_splits")]
        return (*data, context.params["gan_augmentation"], int(context.params["seed"]))


def toy_inputs() -> tuple[Any, Any, Any, dict[str, Any], int]:
    """Generated toy songs (two bands whose positions carry V/A) and a tiny GAN: for the smoke test."""
    sys.path.insert(0, str(PROJECT))
    from tests.conf_params import parameters
    from tests.pipelines.gan_augmentation.conftest import TINY_OVERRIDES, make_toy_data

    overrides = {k: v for k, v in TINY_OVERRIDES.items() if k != "generation.condition_sampling"}  # keep conf's
    return (*make_toy_data(n_songs=32, n_train=20), parameters("gan_augmentation", **overrides), 0)


def run_recipe(name: str, inputs: tuple, override: dict[str, Any]) -> dict[str, Any]:
    from music_emotion.gan.fitting import generate_synthetic_spectrograms, train_gan
    from music_emotion.gan.quality_report import assess_synthetic_quality

    mel, labels, splits, params, seed = inputs
    params = merge(params, override)
    started = time.perf_counter()
    generator, _, history = train_gan(mel, labels, splits, params, seed, "cpu")
    seconds = time.perf_counter() - started
    synthetic, synthetic_labels = generate_synthetic_spectrograms(generator, labels, splits, params["generation"],
                                                                  seed, "cpu")
    quality = assess_synthetic_quality(mel, labels, splits, synthetic, synthetic_labels, params["quality"], seed)
    fidelity = quality["conditioning_fidelity_ccc"]
    return {
        "recipe": name, "train_gan_seconds": round(seconds, 1), "steps": int(history["step"].iloc[-1]),
        "kept_step": generator.config.get("selected_step"),
        "conditioning_ccc_valence": fidelity["train_real_test_synthetic"]["valence"],
        "conditioning_ccc_arousal": fidelity["train_real_test_synthetic"]["arousal"],
        "tstr_ccc_valence": fidelity["train_synthetic_test_real"]["valence"],
        "tstr_ccc_arousal": fidelity["train_synthetic_test_real"]["arousal"],
        "reference_ccc_valence": fidelity["train_real_test_real_reference"]["valence"],
        "reference_ccc_arousal": fidelity["train_real_test_real_reference"]["arousal"],
        "frechet_ratio": quality["frechet_distance"]["ratio_to_floor"],
        "diversity_ratio": quality["mode_collapse"]["ratio"],
        "condition_sampling": params["generation"]["condition_sampling"],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="demo", help="Kedro env whose data and parameters are used")
    parser.add_argument("--quick", action="store_true", help="generated toy songs and a tiny GAN (seconds)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # as conf/demo's cpu_threads: one thread per tiny model
    inputs = toy_inputs() if args.quick else load_inputs(args.env)
    notebook = yaml.safe_load((PROJECT / "conf" / "gan_recipes" / "notebook.yml").read_text())["gan_augmentation"]
    rows = [run_recipe("notebook (bce, condition channels, uniform)", inputs, notebook),
            run_recipe("default (hinge + projection + aux V/A, DiffAugment, EMA)", inputs, {})]
    default = rows[-1]
    targets = {
        "conditioning CCC >= 0.8 (V and A)":
            min(default["conditioning_ccc_valence"], default["conditioning_ccc_arousal"]) >= 0.8,
        "Fréchet ratio <= 3": default["frechet_ratio"] is not None and default["frechet_ratio"] <= 3.0,
        "TSTR CCC > 0 (V and A)": min(default["tstr_ccc_valence"], default["tstr_ccc_arousal"]) > 0,
        "train_gan <= 180 s": default["train_gan_seconds"] <= 180.0,
    }
    print(f"\ngan_recipes ({machine()['cores']} cores, {machine()['date']}, {'toy' if args.quick else args.env} data)")
    columns = ["train_gan_seconds", "conditioning_ccc_valence", "conditioning_ccc_arousal", "tstr_ccc_valence",
               "tstr_ccc_arousal", "frechet_ratio", "diversity_ratio"]
    print(f"{'recipe':58s} " + " ".join(f"{c[:14]:>14s}" for c in columns))
    for row in rows:
        print(f"{row['recipe']:58s} " + " ".join(f"{row[c]:14.3f}" if row[c] is not None else f"{'n/a':>14s}"
                                                 for c in columns))
    for key, ok in targets.items():
        print(f"target {key:50s} {'met' if ok else 'NOT met'}")
    document = {"benchmark": "gan_recipes", "machine": machine(), "data": "toy" if args.quick else args.env,
                "results": rows, "targets": targets}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "gan_recipes.json").write_text(json.dumps(document, indent=2))
    return document


if __name__ == "__main__":
    main()
