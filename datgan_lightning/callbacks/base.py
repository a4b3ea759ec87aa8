"""What the evaluation callbacks share: a schedule in generator iterations, logging, output files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only

from datgan_lightning.utils import write_atomically


class EveryNIterations(Callback):
    """Calls :meth:`evaluate` every ``every_n_iterations`` generator iterations and after the last one.

    Subclasses implement ``evaluate(module, datamodule) -> {name: number}``; the numbers go to every
    logger (at the trainer's global step, with ``generator_iterations``) and, on rank 0, to
    ``<log dir>/<json_name>`` as a list of records, written atomically. ``evaluate`` is also what
    ``datgan evaluate`` calls on a checkpoint.
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

    def run(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        iteration = pl_module.generator_iterations
        metrics = self.evaluate(pl_module, trainer.datamodule)
        for logger in trainer.loggers:
            logger.log_metrics({**metrics, "generator_iterations": float(iteration)}, step=trainer.global_step)
        self.history.append({"generator_iterations": iteration, **metrics})
        self._write_history(trainer)
        return metrics

    @rank_zero_only
    def _write_history(self, trainer: Trainer) -> None:
        write_json_atomic(self.output_dir(trainer) / self.json_name, self.history)

    @staticmethod
    def output_dir(trainer: Trainer) -> Path:
        return Path(trainer.log_dir or trainer.default_root_dir)


def write_json_atomic(path: Path, data: Any) -> Path:
    return write_atomically(path, lambda tmp: Path(tmp).write_text(json.dumps(data, indent=1)))
