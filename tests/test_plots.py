"""Figures are drawn without pyplot and without switching matplotlib's backend."""

import subprocess
import sys

from tests.conftest import REPO

SCRIPT = """
import sys, matplotlib, torch
before = matplotlib.rcParams["backend"]
from datgan_lightning.plots import save_mixture_scatter
path = save_mixture_scatter(sys.argv[1], torch.randn(50, 2), torch.zeros(1, 2), 0.1, "t")
assert matplotlib.rcParams["backend"] == before == "svg", (before, matplotlib.rcParams["backend"])
assert "matplotlib.pyplot" not in sys.modules or sys.modules["matplotlib.pyplot"].get_fignums() == []  # no pyplot state
assert path.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
print("ok")
"""


def test_import_and_save_keep_the_users_backend_and_write_a_png(tmp_path):
    env = {"MPLBACKEND": "svg", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "s.png")], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
    assert not list(tmp_path.glob("*.tmp*"))  # written atomically: no leftover
