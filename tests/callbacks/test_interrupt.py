"""Issue 25.2 in this process: an exception between optimizer steps writes last.ckpt at that generator
iteration (and prints how to resume); one inside a step, or with non-finite weights, writes nothing.
The Ctrl-C path on a real ``datgan fit`` subprocess: tests/test_resume.py."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch import Callback
from lightning.pytorch.callbacks import ModelCheckpoint

from datgan_lightning.callbacks import ResumeState
from datgan_lightning.callbacks.interrupt import resume_command
from datgan_lightning.checkpoint_io import AtomicCheckpointIO
from datgan_lightning.data import GaussianMixture2D
from datgan_lightning.modules import Toy2DGAN


class FailAt(Callback):
    """Raises in on_train_batch_end after generator iteration ``iteration``: an evaluation that crashes."""

    def __init__(self, iteration, weights_to_nan=False):
        self.iteration, self.weights_to_nan = iteration, weights_to_nan

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.generator_iterations == self.iteration:
            if self.weights_to_nan:
                with torch.no_grad():
                    next(pl_module.generator.parameters()).fill_(float("nan"))
            raise RuntimeError("evaluation crashed")


class FailInStep(Toy2DGAN):
    """Raises inside generator iteration 3's generator loss, after its D step: a half-done step."""

    def generator_loss(self, *args, **kwargs):
        if self.generator_iterations == 2:
            raise RuntimeError("step crashed")
        return super().generator_loss(*args, **kwargs)


def _fit(tmp_path, module, *callbacks):
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=-1, logger=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[*callbacks, ResumeState(), ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=1000, save_last=True)],
        plugins=[AtomicCheckpointIO()],
    )
    with pytest.raises(RuntimeError, match="crashed"):
        trainer.fit(module, GaussianMixture2D(batch_size=16))
    return tmp_path / "last.ckpt"


def _toy(cls=Toy2DGAN):
    return cls(hidden=8, layers=2, max_iterations=10, n_dis=1)


def test_an_exception_after_a_step_writes_the_iteration_and_says_how_to_resume(tmp_path, capsys):
    last = _fit(tmp_path, _toy(), FailAt(3))
    assert torch.load(last, weights_only=True)["generator_iterations"] == 3
    err = capsys.readouterr().err
    assert f"Stopped by RuntimeError: saved {last} at generator iteration 3; resume with:\n  trainer.fit(model, datamodule, ckpt_path={str(last)!r})" in err


def test_an_exception_inside_a_step_writes_nothing(tmp_path, capsys):
    last = _fit(tmp_path, _toy(FailInStep))
    assert not last.exists()
    assert "saved" not in capsys.readouterr().err


def test_non_finite_weights_are_not_saved(tmp_path):
    assert not _fit(tmp_path, _toy(), FailAt(3, weights_to_nan=True)).exists()


def test_the_resume_command_replaces_the_runs_ckpt_path_and_is_shell_quoted():
    argv = ["/x/datgan_lightning/cli.py", "fit", "--config", "my config.yaml", "--ckpt_path", "old.ckpt", "--threads=1"]
    assert resume_command("runs/a b/last.ckpt", argv) == "datgan fit --config 'my config.yaml' --threads=1 --ckpt_path 'runs/a b/last.ckpt'"
    assert resume_command("last.ckpt", ["train.py"]) == "trainer.fit(model, datamodule, ckpt_path='last.ckpt')"
    assert resume_command("last.ckpt", ["my/cli.py", "fit"]).startswith("trainer.fit(")  # a script of the user's named cli.py


def test_the_reliability_guides_python_example_runs(tmp_path, monkeypatch):
    import re

    from tests.conftest import REPO

    monkeypatch.chdir(tmp_path)  # its checkpoints go here
    (block,) = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "guides" / "reliability.md").read_text(), flags=re.S)
    namespace: dict = {}
    exec(compile(block, "reliability.md", "exec"), namespace)
    assert namespace["resumed"].generator_iterations == 40


def test_a_failing_interrupt_save_does_not_hide_the_exception_that_stopped_training(tmp_path, monkeypatch, capsys):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(L.Trainer, "save_checkpoint", full_disk)
    assert not _fit(tmp_path, _toy(), FailAt(3)).exists()  # _fit expects the RuntimeError("evaluation crashed")
    assert "Stopped by RuntimeError; the interrupt checkpoint could not be written (OSError: [Errno 28] No space left on device)." in capsys.readouterr().err


def test_ctrl_c_handling_keeps_an_ignored_sigint_ignored_and_restores_the_previous_handler():
    import signal

    from datgan_lightning.callbacks.interrupt import DeferredInterrupt

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as for a background job or `nohup`
    try:
        interrupt = DeferredInterrupt()
        interrupt.install()
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        signal.signal(signal.SIGINT, signal.default_int_handler)
        interrupt.install()
        assert signal.getsignal(signal.SIGINT) != signal.default_int_handler
        interrupt._handle(signal.SIGINT, None)  # the first Ctrl-C: noted, and the next one is Python's again
        assert interrupt.pending and signal.getsignal(signal.SIGINT) == signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
