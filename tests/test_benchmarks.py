"""Each benchmark runs at a tiny size, so the scripts cannot rot (no timing is asserted)."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.bench_smoke  # encodes and decodes mp3s on two engines: ~20 s
def test_extraction_benchmark_smoke(tmp_path):
    import bench_extraction

    document = bench_extraction.main(["--clips", "3", "--seconds", "2", "--repeats", "1", "--n-jobs", "2",
                                      "--cache-dir", str(tmp_path / "clips"), "--out-dir", str(tmp_path)])
    assert [row["name"].split(":")[0] for row in document["results"]] == ["seed", "project", "joblib",
                                                                          "decode-only floor (n_jobs=2)"]
    assert all(row["rate_median"] > 0 and row["peak_rss_mb"] > 0 for row in document["results"])
    assert set(document["ratios"]) == {"project / seed throughput", "decode floor / project (time ratio)",
                                       "Dask / joblib throughput"}
    assert json.loads((tmp_path / "extraction.json").read_text())["benchmark"] == "extraction"


@pytest.mark.bench_smoke  # CLAP's full audio architecture on 4 clips of 45 s: ~60 s
def test_embeddings_benchmark_smoke(tmp_path):
    import bench_embeddings

    document = bench_embeddings.main(["--clips", "4", "--cache-dir", str(tmp_path / "clips"), "--out-dir",
                                      str(tmp_path), "--probe-songs", "60"])
    assert len(document["results"]) == 4 and all(row["peak_rss_mb"] > 0 for row in document["results"])
    assert [row["name"].split()[0] for row in document["results"][2:]] == ["ridge", "mlp"]
    assert document["ratios"]["cached float16 MB for 1,802 songs"] > 0


def test_ast_benchmark_smoke(tmp_path):
    import bench_ast

    document = bench_ast.main(["--quick", "--device", "cpu", "--out-dir", str(tmp_path)])
    assert [row["name"].split()[0] for row in document["results"]] == ["AST", "ViT"]
    assert all(row["rate_median"] > 0 for row in document["results"])
    assert list(document["ratios"]) == ["demo: AST / ViT windows per s (b2)"]


@pytest.mark.bench_smoke  # five Dask clusters in subprocesses and a kill: ~100 s (the library's paths: test_library)
def test_library_benchmark_smoke(tmp_path):
    import bench_library

    document = bench_library.main(["--quick", "--cache-dir", str(tmp_path / "clips"), "--out-dir", str(tmp_path)])
    assert len(document["results"]) == 4 and all(row["rate_median"] > 0 for row in document["results"])
    assert document["ratios"]["files re-processed after a kill at ~50% (batch = 16)"] <= 16


@pytest.mark.bench_smoke  # four kedro runs in subprocesses: ~60 s (tracking itself: test_tracking, e2e)
def test_tracking_benchmark_smoke(tmp_path):
    import bench_tracking

    document = bench_tracking.main(["--quick", "--out-dir", str(tmp_path)])
    assert document["targets"]["the tracked run created a store"]
    assert len(document["results"]) == 2


@pytest.mark.slow  # every part of the GPU check at toy size (~10 s)
def test_gpu_check_smoke_runs_every_part_and_writes_json_and_markdown(tmp_path):
    import gpu_check

    document = gpu_check.main(["--smoke", "--out-dir", str(tmp_path)])
    names = [row["name"] for row in document["results"]]
    for part in ("ViT demo", "AST demo", "eval vit", "eval ast", "GAN demo", "data path"):
        assert any(name.startswith(part) for name in names), (part, names)
    assert all(row["rate_median"] > 0 for row in document["results"])
    assert json.loads((tmp_path / "gpu_check.json").read_text())["smoke"] is True
    table = (tmp_path / "gpu_check.md").read_text()
    assert table.count("\n| ") == len(names) + 2 and "CPU (smoke)" in table  # header, rule, rows
    assert document["rehearsal_split"]["status"] == "skipped: --smoke" and "Rehearsal split at real size" in table


def test_gpu_check_says_why_it_skips_the_rehearsal_split(tmp_path, monkeypatch):
    import gpu_check

    monkeypatch.setattr(gpu_check, "PROJECT", tmp_path)
    assert "no rehearsal features here" in gpu_check.rehearsal_split(400, False, tmp_path)["status"]
    features = tmp_path / "data/rehearsal/04_feature/ast_features.npy"
    features.mkdir(parents=True)
    assert gpu_check.rehearsal_split(60, False, tmp_path)["status"] == "skipped: 60 s left of the check's 480 s"


def test_gpu_check_refuses_to_pretend_without_a_gpu(tmp_path):
    import gpu_check
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the real check would run")
    with pytest.raises(SystemExit):
        gpu_check.main(["--out-dir", str(tmp_path)])


def test_rehearsal_small_models_are_the_rehearsal_experiments_models():
    """`rehearsal_stages.py --small-models` hands Kedro exactly the experiment's small ViT and AST (as a dotlist)."""
    import rehearsal_stages
    import yaml
    from omegaconf import OmegaConf

    parsed = OmegaConf.to_container(OmegaConf.from_dotlist(rehearsal_stages.small_model_params().split(",")))
    conf = yaml.safe_load((rehearsal_stages.PROJECT / "conf/rehearsal/parameters_experiment.yml").read_text())
    overrides = conf["experiment"]["overrides"]["training"]
    assert parsed == {"training": {"model": overrides["model"], "ast": overrides["ast"]}}
    assert parsed["training"]["model"]["vit_config"]["hidden_size"] == 64
