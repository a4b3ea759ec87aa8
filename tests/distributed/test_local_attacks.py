"""Each rank attacks only its own rows, and gets the one-process perturbation of the global batch: 2 and 4
gloo processes (one thread each) run ``local_attacks.py``, one launch per world size for every strategy
(DAT batch/sample 1 and 3 steps, reals only, DATT, FGSM, PGD; D without and with synchronised BatchNorm;
the GAN and ProjectionGAN modules' ``perturb``)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.distributed.test_ddp_training import _free_port

SCRIPT = Path(__file__).with_name("local_attacks.py")
REPO = Path(__file__).parents[2]
TIMEOUT = 240


@pytest.mark.parametrize("world", [2, 4])
def test_each_rank_attacks_its_rows_as_one_device_attacks_the_global_batch(tmp_path, world):
    port = str(_free_port())
    processes = [
        subprocess.Popen([sys.executable, str(SCRIPT), str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "RANK": str(rank), "WORLD_SIZE": str(world),
                              "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port})
        for rank in range(world)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=TIMEOUT)
        assert process.returncode == 0, stderr[-3000:]
    for rank in range(world):
        report = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert len(report) == 20
        for name, case in report.items():
            assert case["moved"] > 1e-3, name  # the attack did something
            assert case["largest_input"] <= 2 * case["local"], name  # own reals and fakes at most (a joint forward)
            if name.startswith("batchnorm/"):  # synchronised statistics: sums in another order
                assert case["difference"] < 1e-6, name
            else:
                assert case["difference"] == 0.0, name
