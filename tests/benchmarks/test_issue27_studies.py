"""Issue 27's study scripts: --quick grids on a tiny .npz (no ../shared data needed) have their documented
outputs and resume; the statistics of study 3 against values computed by hand."""

import json

import numpy as np
import pytest

from benchmarks import dat_step, divergence_rate
from benchmarks.divergence_rate import fisher_exact, is_broken, wilson_interval


@pytest.fixture
def tiny_npz(tmp_path):
    rng = np.random.default_rng(0)
    images = lambda n: rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)  # noqa: E731
    path = tmp_path / "tiny.npz"
    np.savez(path, train_x=images(24), train_y=rng.integers(0, 10, 24), test_x=images(8), test_y=rng.integers(0, 10, 8))
    return path


def test_dat_step_quick_grid_records_and_resumes(tiny_npz, tmp_path, capsys):
    out = tmp_path / "out"
    cells = dat_step.main(["--quick", "--arms", "dat", "matched", "--data", str(tiny_npz), "--out", str(out)])
    journal = json.loads((out / "dat_step_cells.json").read_text())
    assert [c["arm"] for c in journal.values()] == ["dat", "matched"] and list(journal.values()) == cells
    for cell in cells:
        assert cell["error"] is None and [e["iteration"] for e in cell["records"]] == [0, 1, 2]
        last = cell["records"][-1]
        assert set(last["probe"]) == {"batch_eps1", "batch_eps0.6", "sample"} and "fid" in last and last["sn_error"]
    assert set(cells[0]["records"][-1]["own"]) >= {"real/mean_grey", "fake/max_grey", "real/grad_norm"}  # DAT's own step
    assert (out / "dat_step.png").stat().st_size > 1000 and "| dat | 1 |" in (out / "dat_step_table.md").read_text()
    capsys.readouterr()
    dat_step.main(["--quick", "--arms", "dat", "matched", "--data", str(tiny_npz), "--out", str(out)])  # same command
    assert capsys.readouterr().out.count("finished earlier") == 2 and json.loads((out / "dat_step_cells.json").read_text()) == journal


def test_divergence_rate_quick_grid(tiny_npz, tmp_path):
    out = tmp_path / "out"
    table = divergence_rate.main(["--quick", "--methods", "gan", "r1", "--lrs", "0.005", "--data", str(tiny_npz), "--out", str(out)])
    cells = list(json.loads((out / "divergence_rate_cells.json").read_text()).values())
    assert [(c["method"], c["seed"]) for c in cells] == [("gan", 0), ("r1", 0), ("gan", 1), ("r1", 1)]  # seed-major
    assert all(c["error"] is None and len(c["fids"]) == len(divergence_rate.FID_FRACTIONS) for c in cells)
    assert set(table) == {(0.005, "gan"), (0.005, "r1")} and table[(0.005, "gan")]["runs"] == 2
    assert (out / "divergence_rate.png").is_file() and "| 0.005 | r1 |" in (out / "divergence_rate_table.md").read_text()


def test_fisher_exact_hand_computed():
    # Fisher's tea tasting [[3, 1], [1, 3]]: P(x) = C(4, x)^2 / 70 = 1, 16, 36, 16, 1 (/70); as likely or less than 16/70: 34/70
    assert fisher_exact(3, 1, 1, 3) == pytest.approx(34 / 70)
    # [[0, 10], [5, 5]]: P(0) = C(15, 10) / C(20, 10) = 3003 / 184756 = P(5), every other table is more likely
    assert fisher_exact(0, 10, 5, 5) == pytest.approx(2 * 3003 / 184756)
    assert fisher_exact(5, 5, 0, 10) == pytest.approx(2 * 3003 / 184756) and fisher_exact(2, 2, 2, 2) == pytest.approx(1.0)


def test_wilson_interval_hand_computed():
    z2 = 1.959963984540054**2
    assert wilson_interval(0, 10) == pytest.approx((0.0, z2 / (10 + z2)))  # 0 successes: upper bound z^2 / (n + z^2)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_broken_rule():
    assert is_broken([40.0, 30.0, 35.0, 61.0], untrained_fid=400.0) == (True, "final 61.0 > 2 x best 30.0")
    assert is_broken([40.0, 30.0, 35.0, 59.0], untrained_fid=400.0) == (False, "")
    assert is_broken([250.0, 240.0, 230.0, 220.0], untrained_fid=400.0)[0]  # never got below half the untrained FID
    assert is_broken([40.0, None], untrained_fid=400.0) == (True, "non-finite")
