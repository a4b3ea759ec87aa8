"""Test doubles for the reliability tests, importable by class path from a ``datgan`` subprocess
(run with the project root as the working directory)."""

from __future__ import annotations

import os
import signal
from typing import Any

from lightning.pytorch import Callback

from datgan_lightning.modules import Toy2DGAN


class KillAt(Callback):
    """SIGKILLs its own process when generator iteration ``iteration`` is about to start: a real kill,
    at a known point between checkpoints, that changes nothing before it (it only reads a counter)."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if pl_module.generator_iterations + 1 >= self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)


class NaNLossToy2DGAN(Toy2DGAN):
    """Toy2DGAN whose D loss is NaN in generator iteration ``nan_at`` (1-based): an injected divergence."""

    def __init__(self, nan_at: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.nan_at = nan_at

    def discriminator_step(self, real, labels=None):
        loss, d_real, d_fake = super().discriminator_step(real, labels)
        if self.generator_iterations + 1 == self.nan_at:
            loss = loss * float("nan")
        return loss, d_real, d_fake


class InterruptAt(Callback):
    """Sends SIGINT (Ctrl-C) to its own process when generator iteration ``iteration`` has just finished: a
    real interrupt at a known point between checkpoints, that changes nothing (it only reads a counter)."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if pl_module.generator_iterations == self.iteration:
            os.kill(os.getpid(), signal.SIGINT)
