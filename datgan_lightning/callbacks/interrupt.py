"""Nothing lost on Ctrl-C or a crash: where the interrupt checkpoint goes, when it may be written, how to
resume from it, and checkpoint folders that could not be written, found before training.

:class:`~datgan_lightning.callbacks.ResumeState` (in every ``datgan`` run) uses these: a Ctrl-C (SIGINT)
is deferred to the end of the running batch, where the state is whole, then a last checkpoint is
written and the resume command printed; an exception between optimizer steps writes one as well.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from datgan_lightning.errors import ConfigurationError


def weights_are_finite(module: torch.nn.Module) -> bool:
    """Whether every floating-point parameter and buffer of ``module`` is finite."""
    tensors = [t.detach() for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def step_in_flight(trainer: Trainer) -> bool:
    """Whether an optimizer step of the training loop has started and not finished: the weights may then be
    part of a step further than the loop's counters (a D step done, the G step not), so a checkpoint of
    them would not resume exactly."""
    progress = trainer.fit_loop.epoch_loop.batch_progress.current
    return progress.started > progress.processed


def interrupt_checkpoint_path(trainer: Trainer) -> Path | None:
    """``last.ckpt`` in the folder of the run's :class:`ModelCheckpoint` (the one that saves a last
    checkpoint, else the first); ``None`` when the run writes no checkpoints."""
    callbacks = [c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.dirpath]
    if not callbacks:
        return None
    chosen = next((c for c in callbacks if c.save_last), callbacks[0])
    return Path(chosen.dirpath) / f"{chosen.CHECKPOINT_NAME_LAST}{chosen.FILE_EXTENSION}"


def resume_command(checkpoint: str | Path, argv: Sequence[str] | None = None) -> str:
    """The command that resumes from ``checkpoint``, shell-quoted: the ``datgan fit`` command line this
    process was started with (``argv``, default ``sys.argv``), its own ``--ckpt_path`` replaced; for a
    Python script, the ``trainer.fit`` call.

    Example:
        >>> resume_command("runs/my run/last.ckpt", ["/venv/bin/datgan", "fit", "--config", "a.yaml", "--ckpt_path=old.ckpt"])
        "datgan fit --config a.yaml --ckpt_path 'runs/my run/last.ckpt'"
    """
    argv = list(sys.argv if argv is None else argv)
    if not argv or not _is_datgan_command(argv[0]):
        return f"trainer.fit(model, datamodule, ckpt_path={str(checkpoint)!r})"
    args, skip = [], False
    for arg in argv[1:]:
        if skip:
            skip = False
        elif arg == "--ckpt_path":
            skip = True
        elif not arg.startswith("--ckpt_path="):
            args.append(arg)
    return shlex.join(["datgan", *args, "--ckpt_path", str(checkpoint)])


def _is_datgan_command(program: str) -> bool:
    # sys.argv[0] of the console script, and of `python -m datgan_lightning.cli`
    return Path(program).name == "datgan" or Path(program).parts[-2:] == ("datgan_lightning", "cli.py")


def check_checkpoint_folders(trainer: Trainer) -> None:
    """Refuse, before the first step, a :class:`ModelCheckpoint` whose ``dirpath`` cannot be written (a
    read-only filesystem, no permission, a file in the way): otherwise the first save fails after training.

    Raises:
        ConfigurationError: one sentence naming the folder and the fix.
    """
    for callback in trainer.checkpoint_callbacks:
        dirpath = getattr(callback, "dirpath", None)
        if not dirpath or "://" in str(dirpath):  # unset (the run folder, which the run checks), or remote
            continue
        folder = Path(dirpath)
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is None:
            continue
        problem = None if existing.is_dir() else "is not a directory"
        if problem is None and not os.access(existing, os.W_OK | os.X_OK):
            problem = "is not writable (read-only filesystem or no permission)"
        if problem:
            raise ConfigurationError(
                f"{type(callback).__name__}: dirpath={str(dirpath)!r} cannot be written: {str(existing)!r} {problem}; "
                "choose a writable dirpath, or drop it to save under the run folder."
            )


class DeferredInterrupt:
    """A SIGINT handler that only notes the Ctrl-C (``pending``), so that training can stop at the end of the
    running batch; it restores the previous handler at once, so a second Ctrl-C stops immediately.
    Installed only in the main thread (where Python delivers signals)."""

    def __init__(self) -> None:
        self.pending = False
        self._previous: Callable[..., Any] | int | None = None
        self._installed = False

    def install(self) -> None:
        self.pending = False
        if self._installed or sys.platform == "win32" or _not_main_thread():
            return
        self._previous = signal.getsignal(signal.SIGINT)
        if self._previous == signal.SIG_IGN:
            return  # started with Ctrl-C ignored (e.g. `nohup`, a background job): keep it so
        signal.signal(signal.SIGINT, self._handle)
        self._installed = True

    def uninstall(self) -> None:
        if self._installed and signal.getsignal(signal.SIGINT) == self._handle:
            signal.signal(signal.SIGINT, self._previous if self._previous is not None else signal.default_int_handler)
        self._installed = False

    def _handle(self, signum: int, frame: Any) -> None:
        self.pending = True
        self.uninstall()  # the next Ctrl-C raises KeyboardInterrupt wherever training is


def _not_main_thread() -> bool:
    return threading.current_thread() is not threading.main_thread()


def save_interrupt_checkpoint(trainer: Trainer, pl_module: LightningModule, reason: str) -> tuple[Path | None, str]:
    """Write the interrupt checkpoint (``trainer.save_checkpoint``: atomic with the ``datgan`` command's
    :class:`~datgan_lightning.checkpoint_io.AtomicCheckpointIO`) if the weights are finite. Returns its
    path (``None`` when nothing was written) and the message to print: where it went and the
    shell-quoted resume command, or why nothing was written."""
    iteration = getattr(pl_module, "generator_iterations", trainer.global_step)
    path = interrupt_checkpoint_path(trainer)
    if path is None:
        return None, f"{reason} after generator iteration {iteration}; no checkpoint was written (checkpointing is disabled)."
    if not weights_are_finite(pl_module):
        return None, f"{reason} after generator iteration {iteration}; no checkpoint was written: the weights are not finite."
    trainer.save_checkpoint(path)
    return path, f"{reason}: saved {path} at generator iteration {iteration}; resume with:\n  {resume_command(path)}"
