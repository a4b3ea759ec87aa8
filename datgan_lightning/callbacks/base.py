"""What the evaluation callbacks share: a schedule in generator iterations, logging, output files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_only

from datgan_lightning.utils import write_atomically


class LogDirCallback(Callback):
    """A callback writing files under the run's log dir (the first logger's, else ``default_root_dir``)."""

    _output_dir: Path | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # trainer.log_dir is a collective under DDP (a broadcast): resolve it here, on every rank, never
        # inside a rank-zero-only write, where rank 0 would wait for the other ranks forever
        self._output_dir = Path(trainer.log_dir or trainer.default_root_dir)

    def output_dir(self, trainer: Trainer) -> Path:
        return self._output_dir if self._output_dir is not None else Path(trainer.log_dir or trainer.default_root_dir)


class EveryNIterations(LogDirCallback):
    """Calls :meth:`evaluate` every ``every_n_iterations`` generator iterations and after the last one
    during ``fit``, and once at the end of ``validate`` and ``test``.

    Subclasses implement ``evaluate(module, datamodule) -> {name: number}``; during ``fit`` the numbers
    go to every logger (at the trainer's global step, with ``generator_iterations``); in ``validate``
    and ``test`` they are logged through the module, so they appear in the loop's results (and its
    printed table) as well. On rank 0 each record is added to ``<log dir>/<json_name>``, written
    atomically, with its ``stage``. ``evaluate`` is also what ``datgan evaluate`` calls on a checkpoint.
    """

    json_name = "metrics.json"

    def __init__(self, every_n_iterations: int) -> None:
        if int(every_n_iterations) != every_n_iterations or every_n_iterations < 1:
            raise ValueError(f"{type(self).__name__}: every_n_iterations={every_n_iterations} is invalid; use an integer >= 1.")
        self.every_n_iterations = int(every_n_iterations)
        self.history: list[dict[str, Any]] = []
        self._last_iteration: int | None = None

    def evaluate(self, module: LightningModule, datamodule: Any) -> dict[str, float]:
        raise NotImplementedError

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        iteration = pl_module.generator_iterations
        if iteration == self._last_iteration:
            return  # no generator step in this batch
        self._last_iteration = iteration
        if iteration % self.every_n_iterations == 0 or iteration >= pl_module.max_iterations:
            self.run(trainer, pl_module)

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.state.fn != TrainerFn.FITTING:  # during fit the schedule in generator iterations decides
            self.run_in_evaluation_loop(trainer, pl_module)

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.state.fn != TrainerFn.FITTING:
            self.run_in_evaluation_loop(trainer, pl_module)

    def run_in_evaluation_loop(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """At the end of ``validate`` / ``test``: evaluate and log through the module."""
        with torch.inference_mode(False), torch.enable_grad():  # Lightning's loops run in inference mode; attacks need gradients
            metrics = self.evaluate(pl_module, trainer.datamodule)
        pl_module.log_dict(metrics)  # identical on every rank: no sync needed
        self._record(trainer, pl_module, metrics)

    def run(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        metrics = self.evaluate(pl_module, trainer.datamodule)
        for logger in trainer.loggers:
            logger.log_metrics({**metrics, "generator_iterations": float(pl_module.generator_iterations)}, step=trainer.global_step)
        self._record(trainer, pl_module, metrics)
        return metrics

    def _record(self, trainer: Trainer, pl_module: LightningModule, metrics: dict[str, float]) -> None:
        self.history.append({"stage": trainer.state.fn.value, "generator_iterations": pl_module.generator_iterations, **metrics})
        self._write_history(self.output_dir(trainer) / self.json_name)

    @rank_zero_only
    def _write_history(self, path: Path) -> None:
        write_json_atomic(path, self.history)


def write_json_atomic(path: Path, data: Any) -> Path:
    return write_atomically(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=1)))
