"""Every benchmark script runs at a tiny size (`--quick`), so the suite cannot rot. No timing is asserted."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def _rows_ok(document):
    return all(row["rate_median"] > 0 and row["rate_min"] <= row["rate_median"] <= row["rate_max"]
               for row in document["results"])


def test_data_path_benchmark_smoke(tmp_path):
    import bench_data_path

    document = bench_data_path.main(["--quick", "--num-workers", "1", "--out-dir", str(tmp_path)])
    names = [row["name"].split(":")[0] for row in document["results"]]
    assert names == ["seed", "project"]
    assert _rows_ok(document)
    assert document["results"][0]["max_abs_pixel_difference"] < 1e-4  # both ways feed the model the same pixels
    assert "project / seed batches per s" in document["ratios"]
    assert json.loads((tmp_path / "data_path.json").read_text())["benchmark"] == "data_path"


def test_seed_and_project_data_paths_give_the_same_pixels(tmp_path):
    import bench_data_path
    import numpy as np

    values = bench_data_path.write_spectrograms(tmp_path / "s.npy", 6, 16, 40, seed=1)
    targets = np.zeros((6, 2), dtype=np.float32)
    dataset = bench_data_path.SeedSpectrogramDataset(tmp_path / "s.npy", targets, 24)
    rows = np.array([4, 1, 3])
    x, _ = bench_data_path.project_batch(values, targets, rows, bench_data_path.input_config(24))
    assert x.shape == (3, 3, 24, 24)
    assert bench_data_path.check_same_pixels(dataset, values, targets, rows, bench_data_path.input_config(24)) < 1e-4


def test_training_benchmark_smoke(tmp_path):
    import bench_training

    document = bench_training.main(["--quick", "--device", "cpu", "--out-dir", str(tmp_path)])
    results = {(r["model"], r.get("input_mode")): r for r in document["results"]}
    assert set(results) == {("vit", "resize"), ("vit", "native"), ("gan", None)}
    assert _rows_ok(document)
    assert results[("vit", "native")]["tokens"] > results[("vit", "resize")]["tokens"]
    assert all(r["mfu_median"] is None and r["model_gflop_per_image"] > 0 for r in document["results"])  # CPU: MFU n/a
    assert results[("vit", "resize")]["attention"] == "sdpa"


def test_vit_b16_flops_and_gpu_peaks():
    import bench_training
    import torch

    from music_emotion.models.vit_regression import build_vit_regressor

    params = bench_training.trained_model_params("vit-b16", "resize")
    model = build_vit_regressor(params, {}, bench_training.input_normalisation(params), (431, 215))
    gflop = bench_training.vit_flops_per_image(model, 197) / 1e9
    assert 100 < gflop < 110  # ~6 x 86M x 197 + attention
    assert bench_training.gpu_peak_tflops(torch.device("cpu"), None) is None
    assert bench_training.gpu_peak_tflops(torch.device("cpu"), 500.0) == 500.0
    name_to_peak = dict(bench_training.PEAK_BF16_TFLOPS)
    assert name_to_peak["H100"] == 989.0


@pytest.mark.bench_smoke  # three pipeline runs in subprocesses: ~13 s
def test_memory_benchmark_smoke(tmp_path):
    import bench_memory

    document = bench_memory.main(["--quick", "--scales", "1", "--work-dir", str(tmp_path / "work"),
                                  "--out-dir", str(tmp_path)])
    (row,) = document["results"]
    assert row["n_songs"] == 20 and row["peak_rss_mb"] > row["peak_anon_rss_mb"] > 0
    assert {"real_only.training_history", "gan.training_history", "test_metrics"} <= set(row["outputs"])


def test_memory_benchmark_feeds_parameters_as_kedro_does():
    import bench_memory

    flat = bench_memory.flatten_parameters({"seed": 1, "training": {"baselines": {"ridge": {"alphas": [1.0]}}}})
    assert flat["params:seed"] == 1
    assert flat["params:training.baselines.ridge"] == {"alphas": [1.0]}


def test_inference_benchmark_smoke(tmp_path):
    import bench_inference

    document = bench_inference.main(["--quick", "--cache-dir", str(tmp_path / "clips"), "--out-dir", str(tmp_path)])
    end_to_end = document["results"][0]
    assert end_to_end["windows"] == 2  # 4 s clip, 2 s windows
    assert end_to_end["latency_s_min"] <= end_to_end["latency_s_median"] <= end_to_end["latency_s_max"]


def test_run_all_renders_the_readme_tables(tmp_path):
    import run_all

    out = run_all.main(["--quick", "--only", "data_path", "--out-dir", str(tmp_path)])
    assert out["status"]["data_path"]["exit"] == 0
    markdown = out["markdown"].read_text()
    assert "#### data_path" in markdown and "| project: sorted mmap batch" in markdown
    assert "target >= 5x" in markdown


def test_gan_recipes_benchmark_smoke(tmp_path):
    import bench_gan_recipes

    document = bench_gan_recipes.main(["--quick", "--out-dir", str(tmp_path)])
    notebook, default = document["results"]
    assert notebook["condition_sampling"] == "uniform" and default["condition_sampling"] == "train_labels"
    assert all(row["train_gan_seconds"] > 0 and -1 <= row["conditioning_ccc_valence"] <= 1
               for row in document["results"])
    assert set(document["targets"]) == {"conditioning CCC >= 0.8 (V and A)", "Fréchet ratio <= 3",
                                        "TSTR CCC > 0 (V and A)", "train_gan <= 180 s"}
    assert json.loads((tmp_path / "gan_recipes.json").read_text())["data"] == "toy"
