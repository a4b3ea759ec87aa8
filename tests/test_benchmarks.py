"""The toy-2D benchmark's JSON has the documented shape (a tiny run: 2 seeds, 10 iterations)."""

import importlib.util
import json

from tests.conftest import REPO


def test_toy2d_json_shape(tmp_path):
    spec = importlib.util.spec_from_file_location("toy2d_benchmark", REPO / "benchmarks" / "toy2d.py")
    toy2d = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(toy2d)
    out = tmp_path / "r.json"
    toy2d.main(["--seeds", "2", "--iterations", "5", "10", "--num-samples", "200", "--workers", "1",
                "--out", str(tmp_path), "--json", str(out)])  # fmt: skip
    results = json.loads(out.read_text())
    assert set(results) == {"balanced", "imbalanced"}
    for mixture in results.values():
        assert set(mixture) == {"gan", "dat"}
        for method in mixture.values():
            assert set(method) == {"5", "10"}
            for scores in method.values():
                assert set(scores) == {"modes", "hq", "kl"} and all(len(v) == 2 for v in scores.values())
                assert all(0 <= m <= 9 for m in scores["modes"])
    assert (tmp_path / "toy2d_table.md").read_text().count("| balanced |") == 4
    assert (tmp_path / "toy2d_scatter.png").stat().st_size > 1000
