"""The run folder of a ``fit``: one live run at a time (a ``.lock`` file beside it holding the pid), no
folder left behind by a run rejected before it wrote a checkpoint, and at the end what the run wrote and
how to resume it. The ``datgan`` command adds it."""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from datgan_lightning.callbacks.divergence import last_checkpoint
from datgan_lightning.errors import ConfigurationError


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


class RunFolder(Callback):
    """The folder a ``fit`` writes to. :meth:`claim` refuses it while another live run holds its lock (the
    file ``<folder>.lock`` beside it, holding the pid; a dead pid's lock is stale and taken over) and takes
    the lock; the lock goes when the run ends, and a run rejected before it wrote a checkpoint leaves no
    folder behind. A run that ends prints its outputs, its newest checkpoint and the (shell-quoted)
    ``datgan fit`` command that resumes it.

    Args:
        is_rejection: whether an exception that stops the run rejects its input (a bad option: its new
            folder is removed) rather than failing in training (the folder and its checkpoints stay).
    """

    path: Path | None = None

    def __init__(self, is_rejection: Callable[[BaseException], bool] = lambda exception: False) -> None:
        self.is_rejection = is_rejection

    def claim(self, path: str | None) -> None:
        if path is None or rank_zero_only.rank != 0:
            return
        self.path = Path(path)
        self.created = [p for p in (self.path, *self.path.parents) if not p.exists()]
        self.lock = self.path.with_name(self.path.name + ".lock")  # inside, Lightning would warn the folder is not empty
        existing = next(p for p in (self.path, *self.path.parents) if p.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            problem = "is not writable" if existing.is_dir() else "is not a directory"
            raise ConfigurationError(f"cannot write the run's outputs to {str(self.path)!r}: {str(existing)!r} {problem}; choose "
                                     "another --trainer.logger.init_args.save_dir (or --trainer.default_root_dir).")
        owner = self.lock.read_text().strip() if self.lock.is_file() else ""
        if owner.isdigit() and int(owner) != os.getpid() and _pid_alive(int(owner)):
            raise ConfigurationError(f"the run folder {str(self.path)!r} is in use by another run (pid {owner}); wait for it to end, "
                                     "or give this run its own folder (--trainer.logger.init_args.version or .name).")
        self.lock.parent.mkdir(parents=True, exist_ok=True)
        self.lock.write_text(f"{os.getpid()}\n")

    def release(self, rejected: bool = False) -> None:
        if self.path is None:
            return
        self.lock.unlink(missing_ok=True)
        if rejected and self.path in self.created and not any(self.path.rglob("*.ckpt")):
            shutil.rmtree(self.path, ignore_errors=True)
        for parent in self.created[1:] if rejected else []:
            try:
                parent.rmdir()  # only if empty
            except OSError:
                break
        self.path = None

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self.release(rejected=self.is_rejection(exception))

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        run = self.path
        self.release()
        if run is None or not run.is_dir():
            return
        print(f"Outputs of this run: {run}/ ({', '.join(sorted(p.name + ('/' if p.is_dir() else '') for p in run.iterdir()))})")
        last = last_checkpoint(trainer)
        if last is not None:
            config = run / "config.yaml"
            again = f"--config {shlex.quote(str(config))} " if config.is_file() else "--config ... "
            print(f"  last checkpoint: {last}\n  resume with: datgan fit {again}--ckpt_path {shlex.quote(last)}")
