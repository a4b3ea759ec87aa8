"""Exact resume: what a checkpoint needs beyond Lightning's own state so that a killed and resumed run
ends with the weights of the uninterrupted one."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch import Callback, LightningModule, Trainer

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
    })  # fmt: skip
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

    The ``datgan`` command adds it to every run; in Python pass it to the Trainer:
    ``Trainer(callbacks=[ResumeState(), ...])``. Exact for one process and for the same number of
    processes; the data must be shuffled by seeded generators (as this package's datamodules are).
    """

    def __init__(self) -> None:
        self._pending_rng: dict[str, Any] | None = None
        self._checkpoint_hparams: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        # every rank calls this while Lightning dumps a checkpoint (only rank 0 writes it): gather there
        states = rng_states_of_every_rank()
        return {"rng": states[0], "rng_per_rank": states}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        rng = state_dict.get("rng")
        self._pending_rng = None if rng is None else {**rng, "rng_per_rank": state_dict.get("rng_per_rank")}

    def on_load_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        self._checkpoint_hparams = dict(checkpoint.get("hyper_parameters") or {})

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._checkpoint_hparams is not None:
            apply_changed_optimizer_options(trainer, pl_module, self._checkpoint_hparams)
            self._checkpoint_hparams = None
        if self._pending_rng is not None:
            set_rng_state(self._own_rng_state(trainer))
            self._pending_rng = None

    def _own_rng_state(self, trainer: Trainer) -> dict[str, Any]:
        """This rank's RNG state from the checkpoint, rank 0's if it has none for a run of this size."""
        states = self._pending_rng.get("rng_per_rank")
        if is_distributed() and states is not None and len(states) == trainer.world_size:
            keep_restored_streams()  # the module's seed_per_rank must not reseed the restored streams
            return states[trainer.global_rank]
        return self._pending_rng

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
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
        for index, optimizer in enumerate(trainer.optimizers):
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
