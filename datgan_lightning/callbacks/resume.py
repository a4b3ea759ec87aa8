"""Exact resume: what a checkpoint needs beyond Lightning's own state so that a killed and resumed run
ends with the weights of the uninterrupted one."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch import Callback, LightningModule, Trainer

from datgan_lightning.callbacks.divergence import last_checkpoint
from datgan_lightning.callbacks.interrupt import (
    DeferredInterrupt,
    check_checkpoint_folders,
    resume_command,
    save_interrupt_checkpoint,
    step_in_flight,
)
from datgan_lightning.distributed import keep_restored_streams
from datgan_lightning.utils import is_distributed


def rng_state() -> dict[str, Any]:
    """Every RNG a training step may draw from (torch CPU and CUDA, numpy, Python's ``random``) as
    plain data and tensors, loadable with ``torch.load(weights_only=True)``."""
    numpy_state = np.random.get_state(legacy=False)
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "key": torch.from_numpy(np.asarray(numpy_state["state"]["key"], dtype=np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "python": [version, list(internal), gauss],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state({
        "bit_generator": numpy_state["bit_generator"],
        "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": numpy_state["pos"]},
        "has_gauss": numpy_state["has_gauss"],
        "gauss": numpy_state["gauss"],
    })
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def rng_states_of_every_rank() -> list[dict[str, Any]]:
    """:func:`rng_state` of every rank, in rank order, on every rank (a collective under a process group of
    more than one process; ``[rng_state()]`` outside one)."""
    if not is_distributed():
        return [rng_state()]
    states: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(states, rng_state())
    return states


def train_loaders(trainer: Trainer) -> Iterator[Any]:
    """The training loaders of the running fit (after Lightning's processing), flattened."""
    stack = [getattr(trainer, "train_dataloader", None)]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif item is not None:
            yield item


class ResumeState(Callback):
    """Makes ``trainer.fit(..., ckpt_path=...)`` continue exactly where the checkpoint was written: a
    killed and resumed run ends with the same weights, bit for bit on CPU, as one that was never stopped.

    Lightning already checkpoints the module's state (weights, the generator-iteration counter, EMA,
    regularizer state), optimizers, LR schedules and its loop counters. This callback adds:

    * every RNG: torch (CPU, CUDA), numpy, Python's ``random``: the latent noise stream, DAT's and the
      regularizers' draws. Restored when training starts, after the data iterator is made. Under data
      parallelism every rank's RNGs are gathered into the checkpoint and each rank restores its own
      (then :func:`~datgan_lightning.distributed.seed_per_rank` leaves them alone), so a resumed
      multi-process run is the uninterrupted one too; a checkpoint from another number of processes
      (or from before this) restores rank 0's RNGs everywhere and each rank derives its own stream.
    * the data position: it tells resumable loaders (the datamodules of this package:
      :class:`~datgan_lightning.data.resumable.ResumableDataLoader`, the 2D mixture's stream) how many
      batches of the epoch were trained on, which they keep in the checkpoint (Lightning fetches a batch
      ahead from loaders without a length, so their own count would be one too many).
    * options changed on resume: when the module's ``lr_g``/``lr_d``/``betas_g``/``betas_d`` differ from
      the checkpoint's (``datgan fit --ckpt_path ... --model.init_args.lr_g 1e-4``), the restored
      optimizers and LR schedules take the new values (Lightning would restore the old ones).

    And so that nothing is lost (``save_on_interrupt``, one process):

    * Ctrl-C (SIGINT) during ``fit`` lets the running batch finish, then writes ``last.ckpt`` in the
      :class:`~lightning.pytorch.callbacks.ModelCheckpoint` folder at that generator iteration, only if
      the weights are finite, and prints it with the shell-quoted command that resumes from it; a second
      Ctrl-C stops at once (a half-done step is not saved; the message names the last checkpoint).
    * an exception between optimizer steps (e.g. a metric callback failing at an evaluation) writes the
      same checkpoint before it propagates; one inside a step does not (its weights are part of a step
      ahead of the loop's counters).
    * in ``setup``, a ``ModelCheckpoint(dirpath=...)`` that cannot be written (read-only, no permission)
      stops the run in one sentence before the first step.

    With the ``datgan`` command's :class:`~datgan_lightning.checkpoint_io.AtomicCheckpointIO` the
    checkpoint is written atomically. The ``datgan`` command adds this callback to every run; in Python
    pass it to the Trainer: ``Trainer(callbacks=[ResumeState(), ...], plugins=[AtomicCheckpointIO()])``.
    Exact for one process and for the same number of processes (every rank restores its own RNG
    state); the data must be shuffled by seeded generators (as this package's
    datamodules are).

    Args:
        save_on_interrupt: write a checkpoint on Ctrl-C or an exception, as above.
    """

    def __init__(self, save_on_interrupt: bool = True) -> None:
        self._pending_rng: dict[str, Any] | None = None
        self._checkpoint_hparams: dict[str, Any] | None = None
        self.save_on_interrupt = save_on_interrupt
        self._interrupt = DeferredInterrupt()
        self._training = False
        self._batch_idx = -1
        self._report: str | None = None

    def state_dict(self) -> dict[str, Any]:
        # every rank calls this while Lightning dumps a checkpoint (only rank 0 writes it): gather there
        states = rng_states_of_every_rank()
        return {"rng": states[0], "rng_per_rank": states}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        rng = state_dict.get("rng")
        self._pending_rng = None if rng is None else {**rng, "rng_per_rank": state_dict.get("rng_per_rank")}

    def on_load_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        self._checkpoint_hparams = dict(checkpoint.get("hyper_parameters") or {})

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage == "fit":
            check_checkpoint_folders(trainer)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._checkpoint_hparams is not None:
            apply_changed_optimizer_options(trainer, pl_module, self._checkpoint_hparams)
            self._checkpoint_hparams = None
        if self._pending_rng is not None:
            set_rng_state(self._own_rng_state(trainer))
            self._pending_rng = None
        self._training, self._report = True, None
        if self._saves_on_interrupt(trainer):
            self._interrupt.install()

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        self._batch_idx = batch_idx

    def _own_rng_state(self, trainer: Trainer) -> dict[str, Any]:
        """This rank's RNG state from the checkpoint, rank 0's if it has none for a run of this size."""
        states = self._pending_rng.get("rng_per_rank")
        if is_distributed() and states is not None and len(states) == trainer.world_size:
            keep_restored_streams()  # the module's seed_per_rank must not reseed the restored streams
            return states[trainer.global_rank]
        return self._pending_rng

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._record_position(trainer, batch_idx)
        if self._interrupt.pending:  # Ctrl-C during this batch: its step is done, the state is whole
            self._interrupt.pending = False
            _, self._report = save_interrupt_checkpoint(trainer, pl_module, "Interrupted (Ctrl-C)")
            raise KeyboardInterrupt  # Lightning's graceful shutdown; on_exception prints the report

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._interrupt.uninstall()
        self._training = False

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self._interrupt.uninstall()
        if not self._training:
            return  # before training started (setup, bad input) or after it ended: nothing to save
        self._training = False
        report, self._report = self._report, None
        interrupted = isinstance(exception, KeyboardInterrupt)
        if report is None and self._saves_on_interrupt(trainer):
            if not step_in_flight(trainer):
                progress = trainer.fit_loop.epoch_loop.batch_progress.current
                if progress.processed > progress.completed:  # the step is done, a batch-end hook failed
                    self._record_position(trainer, self._batch_idx)
                reason = "Interrupted (Ctrl-C)" if interrupted else f"Stopped by {type(exception).__name__}"
                failed = False
                try:
                    saved, report = save_interrupt_checkpoint(trainer, pl_module, reason)
                except Exception as err:  # noqa: BLE001 - never hide the exception that stopped training
                    saved, report, failed = None, f"{reason}; the interrupt checkpoint could not be written ({type(err).__name__}: {err}).", True
                if saved is None and not interrupted and not failed:
                    report = None  # the error's own message says enough (a divergence names the last good checkpoint)
            elif interrupted:  # a second Ctrl-C, inside a step
                last = last_checkpoint(trainer)
                report = "Interrupted (Ctrl-C) inside an optimizer step: its half-done state was not saved; " + (
                    f"the last checkpoint is {last}; resume with:\n  {resume_command(last)}" if last else "no checkpoint had been written yet."
                )
        if report and trainer.is_global_zero:
            print(report, file=sys.stderr, flush=True)

    def _saves_on_interrupt(self, trainer: Trainer) -> bool:
        # one process only: under DDP the ranks would see the Ctrl-C at different batches, and a save is collective
        return self.save_on_interrupt and trainer.world_size == 1

    @staticmethod
    def _record_position(trainer: Trainer, batch_idx: int) -> None:
        for loader in train_loaders(trainer):
            if hasattr(loader, "consumed"):
                loader.consumed = batch_idx + 1  # batches of this epoch trained on, whatever was fetched ahead


def apply_changed_optimizer_options(trainer: Trainer, pl_module: LightningModule, old: dict[str, Any]) -> list[str]:
    """Give the restored optimizers the module's ``lr_*``/``betas_*`` where they differ from the
    checkpoint's hyperparameters ``old``; an LR schedule keeps its shape (the LR is scaled by new/old).
    Returns the names of the options applied."""
    new = getattr(pl_module, "hparams", {})
    nets = {"d": getattr(pl_module, "discriminator", None), "g": getattr(pl_module, "generator", None)}
    applied = []
    for net_name, net in nets.items():
        if net is None:
            continue
        params = {id(p) for p in net.parameters()}
        lr_key, betas_key = f"lr_{net_name}", f"betas_{net_name}"
        for optimizer in trainer.optimizers:
            if not any(id(p) in params for group in optimizer.param_groups for p in group["params"]):
                continue
            if lr_key in new and lr_key in old and float(new[lr_key]) != float(old[lr_key]) and float(old[lr_key]) > 0:
                ratio = float(new[lr_key]) / float(old[lr_key])
                for group in optimizer.param_groups:
                    group["lr"] *= ratio
                    if "initial_lr" in group:
                        group["initial_lr"] *= ratio
                for config in trainer.lr_scheduler_configs:
                    if getattr(config.scheduler, "optimizer", None) is optimizer and hasattr(config.scheduler, "base_lrs"):
                        config.scheduler.base_lrs = [lr * ratio for lr in config.scheduler.base_lrs]
                        if hasattr(config.scheduler, "_last_lr"):
                            config.scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]
                applied.append(lr_key)
            if betas_key in new and betas_key in old and tuple(new[betas_key]) != tuple(old[betas_key]):
                for group in optimizer.param_groups:
                    if "betas" in group:
                        group["betas"] = tuple(float(b) for b in new[betas_key])
                applied.append(betas_key)
    return applied
