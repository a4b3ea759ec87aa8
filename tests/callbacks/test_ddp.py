"""ImageQualityMetrics under real DDP (2 CPU processes, gloo): torchmetrics' state sync gives every rank
the one-device numbers, with real statistics computed there or read from the cache."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).with_name("ddp_image_quality.py")


def test_image_quality_under_two_process_ddp_equals_one_device(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "images.npz", train_x=rng.integers(0, 256, (40, 1, 32, 32), dtype=np.uint8),
             test_x=rng.integers(0, 256, (30, 1, 32, 32), dtype=np.uint8))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    for extra in ([], ["--one-device"]):  # the DDP run, then the one-device numbers from its weights
        done = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "images.npz"), str(tmp_path), *extra],
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    expected = json.loads((tmp_path / "one_device.json").read_text())
    for result in ranks:
        assert result["world_size"] == 2
        assert {name.split("/")[0] for name in expected} == {"fid", "kid", "kid_std", "is", "is_std", "mifid"}
        assert [h["generator_iterations"] for h in result["fit"]] == [2, 3, 3, 3]  # 2, last; then validate, test
        assert [h["stage"] for h in result["fit"]] == ["fit", "fit", "validate", "test"]
        for scored in (result["fit"][-1], result["validate"], result["test"], result["from_cache"]):
            for name, value in expected.items():
                assert scored[name] == pytest.approx(value, rel=1e-6, abs=1e-7), name
    assert ranks[0]["fit"] == ranks[1]["fit"]  # both ranks computed the same numbers
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 6  # FID, KID and MiFID reals of train and test, written by rank 0
