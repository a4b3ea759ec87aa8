"""The guides' Python examples (docs/guides/*.md) run as written."""

import re
import subprocess
import sys

from tests.conftest import REPO


def _blocks(name: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "docs" / "guides" / name).read_text(), flags=re.S)


def test_own_loop_example_trains_through_the_objective_without_lightning():
    (block,) = _blocks("own_loop.md")
    check = "\nassert g_loss.isfinite() and d_loss.isfinite() and d_step == 199\n"
    out = subprocess.run([sys.executable, "-c", block + check], cwd=REPO, capture_output=True, text=True, timeout=300, check=True)
    assert re.fullmatch(r"D loss -?[0-9.]+, G loss -?[0-9.]+\n", out.stdout)


def test_custom_nets_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the Trainer writes its logs here
    namespace: dict = {}
    for block in _blocks("custom_nets.md"):
        exec(compile(block, "custom_nets.md", "exec"), namespace)
    assert namespace["loaded"].generator_iterations == namespace["gan"].generator_iterations == 20
