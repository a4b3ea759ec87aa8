"""Stop (or skip the step) when training produces a non-finite loss, gradient or weight, before any
checkpoint of the broken state is written."""

from __future__ import annotations

import os
from typing import Any, Literal

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

from datgan_lightning.errors import DivergenceError


def _all_finite(tensors: list[Tensor]) -> bool:
    if not tensors:
        return True
    norms = torch._foreach_norm(tensors)  # one fused pass; inf/nan anywhere makes its norm non-finite
    return bool(torch.isfinite(torch.stack(norms)).all())


def last_checkpoint(trainer: Trainer) -> str | None:
    """The newest checkpoint file the run's checkpoint callbacks wrote, if any."""
    paths = set()
    for callback in trainer.checkpoint_callbacks:
        paths.update(p for p in (getattr(callback, "last_model_path", ""), getattr(callback, "best_model_path", "")) if p)
        paths.update(getattr(callback, "best_k_models", {}) or {})
    existing = [p for p in paths if os.path.isfile(p)]
    return max(existing, key=os.path.getmtime) if existing else None


class DivergenceGuard(Callback):
    """Watches every optimizer step of a GAN module: the loss given to ``manual_backward``, the gradients
    before the step, and all weights after each batch.

    With ``on_nonfinite="stop"`` (default) a NaN/inf loss or gradient stops training *before* the
    optimizer applies it, and a NaN/inf weight stops it after the batch, in both cases before
    :class:`~lightning.pytorch.callbacks.ModelCheckpoint` runs (Lightning calls checkpoint callbacks
    last), so no checkpoint of the broken state is written. It raises
    :class:`~datgan_lightning.errors.DivergenceError` with one sentence naming the generator iteration,
    the loss and its value, and the last good checkpoint; ``datgan fit`` prints it and exits with code 1.

    With ``on_nonfinite="skip"`` a step whose loss or gradients are not finite is skipped (its gradients
    are dropped, so the optimizer leaves weights and moments as they were), counted in
    ``divergence/skipped_steps`` (logged) and :attr:`skipped`; training stops as above after
    ``max_consecutive_skips`` bad steps in a row, or when a weight itself becomes non-finite.

    The ``datgan`` command adds one (stop mode) to every run unless the config has its own, e.g.
    ``--trainer.callbacks+=datgan_lightning.callbacks.DivergenceGuard --trainer.callbacks.on_nonfinite=skip``.

    Args:
        on_nonfinite: ``"stop"`` or ``"skip"``.
        max_consecutive_skips: in skip mode, bad steps in a row after which training stops.
        check_weights: also check every weight after each batch (one fused norm over the parameters).
    """

    def __init__(self, on_nonfinite: Literal["stop", "skip"] = "stop", max_consecutive_skips: int = 100, check_weights: bool = True) -> None:
        if on_nonfinite not in ("stop", "skip"):
            raise ValueError(f"DivergenceGuard: on_nonfinite={on_nonfinite!r} is invalid; use 'stop' or 'skip'.")
        if int(max_consecutive_skips) != max_consecutive_skips or max_consecutive_skips < 1:
            raise ValueError(f"DivergenceGuard: max_consecutive_skips={max_consecutive_skips!r} is invalid; use an integer >= 1.")
        self.on_nonfinite = on_nonfinite
        self.max_consecutive_skips = int(max_consecutive_skips)
        self.check_weights = check_weights
        self.skipped = 0
        self._consecutive = 0
        self._loss: Tensor | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"skipped": self.skipped}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.skipped = int(state_dict.get("skipped", 0))

    # ------------------------------------------------------------------ hooks
    def on_before_backward(self, trainer: Trainer, pl_module: LightningModule, loss: Tensor) -> None:
        self._loss = loss.detach()

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Any) -> None:
        loss, self._loss = self._loss, None
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        loss_ok = loss is None or bool(torch.isfinite(loss).all())
        if loss_ok and _all_finite(grads):
            self._consecutive = 0
            return
        name = self._loss_name(pl_module, optimizer)
        what = f"{name} = {loss.item() if loss is not None and loss.numel() == 1 else loss}" if not loss_ok else f"the gradients of {name} (loss {loss.item() if loss is not None and loss.numel() == 1 else '?'}) are not finite"
        if self.on_nonfinite == "skip":
            for group in optimizer.param_groups:
                for p in group["params"]:
                    p.grad = None  # the optimizer skips parameters without a gradient: weights and moments unchanged
            self.skipped += 1
            self._consecutive += 1
            if self._consecutive < self.max_consecutive_skips:
                return
            what += f" ({self._consecutive} bad steps in a row were skipped)"
        else:
            for group in optimizer.param_groups:
                for p in group["params"]:
                    p.grad = None  # leave the weights as they were: the last state is still good
        self._stop(trainer, pl_module, what)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.check_weights and not _all_finite([p.detach() for p in pl_module.parameters()]):
            bad = next(name for name, p in pl_module.named_parameters() if not bool(torch.isfinite(p.detach()).all()))
            self._stop(trainer, pl_module, f"weight {bad} is not finite")
        # log on the batches Lightning writes (every log_every_n_steps-th; a GAN counts its batches in
        # discriminator_steps), since self.log on every batch would cost more than a toy-2D step
        every, batches = trainer.log_every_n_steps, getattr(pl_module, "discriminator_steps", None)
        if self.on_nonfinite == "skip" and every > 0 and (batches is None or batches % every == 0 or trainer.should_stop):
            pl_module.log("divergence/skipped_steps", float(self.skipped), on_step=True, on_epoch=False)

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _loss_name(pl_module: LightningModule, optimizer: Any) -> str:
        params = {id(p) for group in optimizer.param_groups for p in group["params"]}
        for net, name in (("discriminator", "loss/d"), ("generator", "loss/g")):
            module = getattr(pl_module, net, None)
            if module is not None and any(id(p) in params for p in module.parameters()):
                return name
        return "the loss"

    def _stop(self, trainer: Trainer, pl_module: LightningModule, what: str) -> None:
        done = getattr(pl_module, "generator_iterations", None)
        where = f"in generator iteration {done + 1} ({done} completed)" if done is not None else f"at global step {trainer.global_step}"
        checkpoint = last_checkpoint(trainer)
        last = (
            f"the last good checkpoint is {checkpoint}; resume from it with e.g. a lower learning rate "
            f"(datgan fit ... --ckpt_path {checkpoint} --model.init_args.lr_d ...)"
            if checkpoint
            else "no checkpoint had been written yet"
        )
        raise DivergenceError(f"training diverged {where}: {what}; nothing of this state was saved; {last}.")
