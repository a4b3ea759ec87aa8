"""benchmarks.stabilizers --smoke on a tiny labelled .npz (no ../shared data needed): every method's cell is
built from configs/stabilizers, the JSON has its documented shape, the table compares with the baseline and
with the same stack without DAT, and the FID-vs-iterations plot is written."""

import json

import numpy as np
import pytest

from tests.benchmarks.test_benchmarks import _load


def test_stabilizers_smoke_json_table_and_plot(tmp_path, capsys):
    rng = np.random.default_rng(0)
    images = lambda n: rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)  # noqa: E731
    np.savez(tmp_path / "tiny.npz", train_x=images(40), train_y=rng.integers(0, 10, 40), test_x=images(12), test_y=rng.integers(0, 10, 12))
    bench = _load("stabilizers")
    out = tmp_path / "r.json"
    results = bench.main(["--smoke", "--methods", "baseline", "dat", "--seeds", "2", "--jobs", "1", "--every", "1",
                          "--data", str(tmp_path / "tiny.npz"), "--out", str(tmp_path / "out"), "--json", str(out),
                          "--plot", str(tmp_path / "s.png")])
    assert json.loads(out.read_text()) == results
    assert results["setup"]["iterations"] == 2 and results["setup"]["num_samples"] == 12  # min(16, 12 test, 40 train)
    assert list(results["methods"]) == ["baseline", "dat"]
    for method, metrics in results["methods"].items():
        assert set(metrics) == set(bench.METRICS) and all(len(v) == 2 for v in metrics.values()), method
        assert all(isinstance(v, float) for v in metrics["fid_test"] + metrics["fid_train"] + metrics["seconds_per_iteration"])
        assert metrics["fid_gap"] == pytest.approx([t - r for t, r in zip(metrics["fid_test"], metrics["fid_train"])])
        assert all(0 <= v <= 1 for v in metrics["flip_share_fake"] + metrics["fgsm_accuracy_real"])
        curve = results["curves"][method]
        assert list(curve) == ["0", "1", "2"] and curve["2"]["fid_test"] == metrics["fid_test"]  # at the start, every iteration; the last is the table's
    printed = capsys.readouterr().out
    assert "FAILED" not in printed and "| baseline | " in printed and "(× 1.00)" in printed  # the baseline's time relative to itself
    dat_row = next(line for line in printed.splitlines() if line.startswith("| dat |"))
    assert dat_row.count("vs baseline (") == 2  # DAT alone: its reference and its stack without DAT are both the baseline
    assert (tmp_path / "s.png").stat().st_size > 1000 and (tmp_path / "out" / "r_table.md").is_file()
    config = (tmp_path / "out" / "runs" / "data_100" / "dat" / "seed1" / "config.yaml").read_text()
    assert "datgan_lightning.adversarial.DAT" in config and "seed_everything: 1" in config and "subset_fraction: 1.0" in config


def test_cells_stack_the_fraction_and_method_files_that_exist():
    bench = _load("stabilizers")
    for fraction in bench.FRACTIONS:
        table = bench.stabilizer_table(fraction, 16)
        assert list(table.rows) == list(bench.METHODS)
        for args in table.rows.values():
            assert all((bench.CONFIGS / a).is_file() for a in args if a.endswith(".yaml"))
            assert args[1].endswith(f"stabilizers/data_{fraction}.yaml")
    assert set(bench.WITHOUT_DAT) <= set(bench.METHODS) and set(bench.WITHOUT_DAT.values()) <= set(bench.METHODS)


def test_a_zero_count_is_refused(capsys, tmp_path):
    bench = _load("stabilizers")
    with pytest.raises(SystemExit):
        bench.parse(["--every", "0"])
    assert "argument --every: 0 must be >= 1" in capsys.readouterr().err
