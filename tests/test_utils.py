import stat

import pytest

from datgan_lightning.utils import write_atomically


def test_written_files_get_the_permissions_open_would_give(tmp_path):
    """mkstemp creates 0600 files; a checkpoint or result file must be readable as a plain open() makes it."""
    written = write_atomically(tmp_path / "result.json", lambda tmp: open(tmp, "w").write("{}"))
    reference = tmp_path / "reference.json"
    reference.write_text("{}")
    assert stat.S_IMODE(written.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary(tmp_path):
    def fail(tmp):
        open(tmp, "w").write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomically(tmp_path / "result.json", fail)
    assert list(tmp_path.iterdir()) == []


SUM_OVER_RANKS = """
import os, sys, torch, torch.distributed as dist, torch.multiprocessing as mp
from datgan_lightning.utils import sum_over_ranks

def run(rank):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2, init_method="tcp://127.0.0.1:" + sys.argv[1])
    total = sum_over_ranks(torch.tensor([rank + 1.0, 10.0 * rank], dtype=torch.float64))
    open(f"{sys.argv[2]}/rank{rank}.txt", "w").write(str(total.tolist()))  # not stdout: two writers interleave
    dist.destroy_process_group()

if __name__ == "__main__":
    mp.spawn(run, nprocs=2)
"""


def test_sum_over_ranks_sums_across_two_gloo_processes_and_is_identity_alone(tmp_path):
    import socket
    import subprocess
    import sys

    import torch

    from datgan_lightning.utils import sum_over_ranks

    x = torch.tensor([1.0, 2.0])
    assert torch.equal(sum_over_ranks(x), x)  # no process group: unchanged
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = tmp_path / "sum_over_ranks.py"
    script.write_text(SUM_OVER_RANKS)
    out = subprocess.run([sys.executable, str(script), str(port), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert [(tmp_path / f"rank{r}.txt").read_text() for r in (0, 1)] == ["[3.0, 10.0]"] * 2
