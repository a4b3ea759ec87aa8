"""Training under data parallelism equals one process on the same global batch: a tiny SNGAN-style GAN
with DAT (spectral-norm D, hinge, n_dis 2, 3 generator iterations, global batch 8, BatchNorm in G and D with
``sync_batchnorm``; each rank attacks its own rows) on 1 process, on 2 processes of one node and on 2 "nodes" of 1 process (localhost),
gloo, one thread each. Subprocesses with a timeout: DDP inside the pytest process would hang."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

SCRIPT = Path(__file__).with_name("ddp_train.py")
REPO = Path(__file__).parents[2]
TIMEOUT = 240


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(out, *args, **env):
    args = (*args, "--batchnorm")
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **env}
    return subprocess.Popen([sys.executable, str(SCRIPT), str(out), *args], env=environment, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _runs(tmp_path) -> dict[str, list]:
    """All runs at once (the machine's two cores are mostly idle during start-up)."""
    nodes = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    runs = {
        "one": [_start(tmp_path / "one", "--devices", "1")],
        "devices": [_start(tmp_path / "devices", "--devices", "2")],
        "nodes": [_start(tmp_path / "nodes", "--num-nodes", "2", NODE_RANK=str(r), **nodes) for r in (0, 1)],
    }
    for name, processes in runs.items():
        for process in processes:
            _, stderr = process.communicate(timeout=TIMEOUT)
            assert process.returncode == 0, f"{name}: {stderr[-3000:]}"
    return runs


def _weights(out: Path, rank: int) -> dict[str, torch.Tensor]:
    return torch.load(out / f"rank{rank}.pt", weights_only=True)


def _max_difference(a, b) -> float:
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def test_two_processes_and_two_nodes_train_the_weights_of_one_process(tmp_path):
    _runs(tmp_path)
    one = _weights(tmp_path / "one", 0)
    info = json.loads((tmp_path / "one" / "rank0.json").read_text())
    assert info["norms"] == ["BatchNorm2d"] and info["world_size"] == 1 and info["generator_iterations"] == 3 and info["moved"] > 1e-2  # training moved them
    for run in ("devices", "nodes"):
        ranks = [json.loads((tmp_path / run / f"rank{r}.json").read_text()) for r in (0, 1)]
        assert [r["world_size"] for r in ranks] == [2, 2] and {r["strategy"] for r in ranks} == {"GANDDPStrategy"}
        assert [r["generator_iterations"] for r in ranks] == [3, 3] and ranks[0]["norms"] == ["GlobalBatchNorm"]
        assert _max_difference(_weights(tmp_path / run, 0), _weights(tmp_path / run, 1)) == 0.0  # identical on all ranks
        assert _max_difference(one, _weights(tmp_path / run, 0)) < 1e-6, run  # each rank attacks its own rows
        assert ranks[0]["noise"] != ranks[1]["noise"]  # each rank its own random stream...
        logged, expected = ranks[0]["logged"], info["logged"]  # the global batch's losses, logits and step size
        assert logged.keys() == expected.keys() and {"loss/d", "loss/g", "d/real", "perturbation/real/max_grey"} <= expected.keys()
        assert all(abs(logged[k] - expected[k]) <= 1e-5 * max(1.0, abs(expected[k])) for k in expected), run
    devices, nodes = (json.loads((tmp_path / run / "rank1.json").read_text())["noise"] for run in ("devices", "nodes"))
    assert devices == nodes  # ...reproducibly
