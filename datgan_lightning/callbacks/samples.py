"""A fixed-noise sample grid, logged and saved as PNG while training."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from torchvision.utils import make_grid, save_image

from datgan_lightning.callbacks.base import EveryNIterations
from datgan_lightning.utils import write_atomically


class SampleGrid(EveryNIterations):
    """Every ``every_n_iterations`` generator iterations (and after the last), samples from a fixed
    latent batch (the EMA generator when enabled) go into one ``make_grid`` image: logged to every
    logger that takes images (TensorBoard ``add_image``, loggers with ``log_image`` such as W&B) and
    saved as ``<log dir>/samples/iteration_XXXXXX.png`` (written atomically); also once at the end of
    ``validate`` / ``test``. Rank 0 only.

    Args:
        every_n_iterations: interval in generator iterations.
        num_samples, nrow: grid size (a class-conditional G gets one row of ``nrow`` per class instead).
        seed: seed of the latent batch (the same ``z`` every time, so grids show training progress).
    """

    def __init__(self, every_n_iterations: int = 1000, num_samples: int = 64, nrow: int = 8, seed: int = 0) -> None:
        super().__init__(every_n_iterations)
        if num_samples < 1 or nrow < 1:
            raise ValueError(f"SampleGrid: num_samples={num_samples} and nrow={nrow} must both be >= 1.")
        self.num_samples, self.nrow, self.seed = num_samples, nrow, seed
        self.saved: list[Path] = []

    def evaluate(self, module: LightningModule, datamodule: Any) -> dict[str, float]:
        return {}  # a grid is an image, not numbers: nothing for `datgan evaluate` to report

    def run(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.log_grid(trainer, pl_module, self.output_dir(trainer))

    def run_in_evaluation_loop(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.run(trainer, pl_module)

    def grid(self, module: LightningModule) -> torch.Tensor:
        """The grid image; for a class-conditional G one row of ``nrow`` samples per class."""
        num_classes = getattr(module.generator, "num_classes", 0)
        n = num_classes * self.nrow if num_classes else self.num_samples
        z = torch.randn(n, module.generator.latent_dim, generator=torch.Generator().manual_seed(self.seed))
        labels = torch.arange(num_classes).repeat_interleave(self.nrow).to(module.device) if num_classes else None
        samples = module.sample(z=z.to(module.device), labels=labels).float().cpu()
        return make_grid(samples, nrow=self.nrow, normalize=True, value_range=(-1, 1))

    @rank_zero_only
    def log_grid(self, trainer: Trainer, module: LightningModule, out: Path) -> Path:
        iteration = module.generator_iterations
        grid = self.grid(module)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image("samples", grid, global_step=iteration)
            elif hasattr(logger, "log_image"):
                logger.log_image(key="samples", images=[grid], step=trainer.global_step)
        path = out / "samples" / f"iteration_{iteration:06d}.png"
        write_atomically(path, lambda tmp: save_image(grid, tmp, format="png"))
        self.saved.append(path)
        return path
