"""Each benchmark runs at a tiny size, so the scripts cannot rot (no timing is asserted)."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


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


def test_ast_benchmark_smoke(tmp_path):
    import bench_ast

    document = bench_ast.main(["--quick", "--device", "cpu", "--out-dir", str(tmp_path)])
    assert [row["name"].split()[0] for row in document["results"]] == ["AST", "ViT"]
    assert all(row["rate_median"] > 0 for row in document["results"])
    assert list(document["ratios"]) == ["demo: AST / ViT windows per s (b2)"]


@pytest.mark.slow
def test_library_benchmark_smoke(tmp_path):
    import bench_library

    document = bench_library.main(["--quick", "--cache-dir", str(tmp_path / "clips"), "--out-dir", str(tmp_path)])
    assert len(document["results"]) == 4 and all(row["rate_median"] > 0 for row in document["results"])
    assert document["ratios"]["files re-processed after a kill at ~50% (batch = 16)"] <= 16


@pytest.mark.slow
def test_tracking_benchmark_smoke(tmp_path):
    import bench_tracking

    document = bench_tracking.main(["--quick", "--out-dir", str(tmp_path)])
    assert document["targets"]["the tracked run created a store"]
    assert len(document["results"]) == 2
