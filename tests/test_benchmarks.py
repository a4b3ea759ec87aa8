"""The toy-2D benchmark's JSON has the documented shape (a tiny run: 2 seeds, 10 iterations)."""

import importlib.util
import json

import pytest

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


MNIST = REPO.parent / "shared" / "data" / "mnist"


@pytest.mark.skipif(not (MNIST / "t10k-images-idx3-ubyte.gz").is_file(), reason="needs ../shared/data/mnist (the MNIST test split)")
def test_mnist_dcgan_json_shape_and_grids(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    spec = importlib.util.spec_from_file_location("mnist_dcgan_benchmark", REPO / "benchmarks" / "mnist_dcgan.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "r.json"
    bench.main(["--iterations", "14", "--out", str(tmp_path), "--json", str(out)])
    results = json.loads(out.read_text())
    assert set(results) == {"gan", "dat"}
    for r in results.values():
        assert r["iterations"] == 14 and 0 < r["spread"][0] <= r["seconds_per_iteration"] <= r["spread"][1] < r["total_seconds"]
    assert (tmp_path / "samples_gan.png").stat().st_size > 1000 and (tmp_path / "samples_dat.png").is_file()
    assert "DAT / GAN time per iteration" in (tmp_path / "mnist_dcgan_table.md").read_text()
