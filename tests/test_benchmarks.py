"""Each benchmark runs at a tiny size, so the scripts cannot rot (no timing is asserted)."""

import json
import sys
from pathlib import Path

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
