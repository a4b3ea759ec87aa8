"""benchmarks.scale --smoke: one process and two with gan_ddp, DAT, tiny; the table has both rows."""

import json

from benchmarks import scale


def test_scale_benchmark_smoke(tmp_path):
    results = scale.main(["--smoke", "--out", str(tmp_path), "--timeout", "300"])
    assert set(results) == {"dat/1/single", "dat/2/gan_ddp"}
    assert all(r["seconds_per_iteration"] > 0 and r["iterations"] == 2 for r in results.values())
    table = (tmp_path / "scale_table.md").read_text()
    assert "| dat | 1 | single |" in table and "| dat | 2 | gan_ddp |" in table
    assert json.loads((tmp_path / "scale.json").read_text())["results"] == results
