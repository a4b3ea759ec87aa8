"""Wall time per generator iteration (n_dis D steps + one G step), the unit GAN papers count in."""

from __future__ import annotations

import statistics
import time

import torch
from lightning.pytorch import Callback, LightningModule, Trainer


class IterationTimer(Callback):
    """Records the wall time of every generator iteration after ``warmup`` of them.

    An iteration ends when the module's ``generator_iterations`` counter moves (after the G step);
    its time runs from the previous iteration's end, so it includes loading the n_dis real batches.
    On CUDA the clock is read after ``torch.cuda.synchronize()``, so queued kernels are counted.

    Example:
        >>> timer = IterationTimer(warmup=2)
        >>> timer.times
        []
    """

    def __init__(self, warmup: int = 10) -> None:
        if warmup < 0:
            raise ValueError(f"IterationTimer: warmup={warmup} is negative; use warmup >= 0.")
        self.warmup = warmup
        self.times: list[float] = []
        self._last: float | None = None
        self._seen: int | None = None
        self._start_iteration = 0

    def on_train_start(self, trainer: Trainer, module: LightningModule) -> None:
        self._last, self._seen = None, module.generator_iterations
        self._start_iteration = module.generator_iterations  # warm-up counts from this fit's start

    def on_train_batch_end(self, trainer: Trainer, module: LightningModule, outputs, batch, batch_idx: int) -> None:
        if module.generator_iterations == self._seen:
            return
        self._seen = module.generator_iterations
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)
        now = time.perf_counter()
        if self._last is not None and self._seen - self._start_iteration > self.warmup:
            self.times.append(now - self._last)
        self._last = now

    def summary(self) -> dict[str, float]:
        """Median and quartiles of the recorded times, in seconds."""
        return summarize(self.times)


def summarize(times: list[float]) -> dict[str, float]:
    """``{"median", "q1", "q3", "n"}`` of a list of durations (quartiles equal the median below 2 values)."""
    if not times:
        raise ValueError("no iteration was timed: run more iterations than the warm-up.")
    median = statistics.median(times)
    q1, _, q3 = statistics.quantiles(times, n=4) if len(times) > 1 else (median, median, median)
    return {"median": median, "q1": q1, "q3": q3, "n": len(times)}
