"""python -m benchmarks.gpu --device cpu --smoke: every module trains 2 iterations under bf16-mixed + channels_last,
every timed setting but compile runs, and the JSON holds what the table shows (the real run needs a GPU)."""

import importlib
import json


def test_gpu_benchmark_smoke_on_cpu(tmp_path):
    gpu = importlib.import_module("benchmarks.gpu")
    result = gpu.main(["--device", "cpu", "--smoke", "--out", str(tmp_path)])
    assert [r["module"] for r in result["modules"] if r["ok"]] == ["SNGAN", "SSGAN", "InfoMaxGAN", "DCGAN", "WGAN", "ASGAN", "RobGAN", "ProjectionGAN"]
    timed = {(r["method"], r["setting"]): r for r in result["timing"]}
    assert len(timed) == 12 and all(("compile" in setting) == ("skipped" in r) for (_, setting), r in timed.items())
    assert all(r["seconds_per_iteration"] > 0 and r["projected_hours"] > 0 for r in timed.values() if "skipped" not in r)
    assert json.loads((tmp_path / "gpu.json").read_text())["timing"] == result["timing"]
    assert "| DAT | bf16+channels_last |" in (tmp_path / "gpu_table.md").read_text()
