"""The plain-PyTorch pieces import without Lightning, torchmetrics or jsonargparse (each in a fresh
interpreter, since this test process has loaded them all); ``datgan_lightning.modules`` registers the
``gan_ddp`` strategy name."""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

FRAMEWORKS = ("lightning", "pytorch_lightning", "lightning_fabric", "torchmetrics", "jsonargparse")
PLAIN = ["datgan_lightning", "datgan_lightning.adversarial", "datgan_lightning.losses", "datgan_lightning.nets",
         "datgan_lightning.regularizers", "datgan_lightning.augmentations", "datgan_lightning.checks", "datgan_lightning.errors"]
CHECK = "import importlib, sys; importlib.import_module({module!r}); print(sorted(m for m in {frameworks!r} if m in sys.modules))"


def _python(code):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("module", PLAIN + ["datgan_lightning.objective"])
def test_plain_pieces_import_without_lightning(module):
    assert _python(CHECK.format(module=module, frameworks=FRAMEWORKS)) == "[]"


def test_importing_the_modules_registers_gan_ddp():
    code = ("import datgan_lightning.modules, lightning as L; t = L.Trainer(accelerator='cpu', devices=1, strategy='gan_ddp', "
            "logger=False, enable_progress_bar=False); print(type(t.strategy).__name__)")
    assert _python(code) == "GANDDPStrategy"
