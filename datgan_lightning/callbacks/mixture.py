"""A callback scoring a 2D-mixture GAN while it trains: mode coverage, HQ share, KL, scatter plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only

from datgan_lightning.callbacks.base import LogDirCallback, write_json_atomic
from datgan_lightning.metrics.mixture import mixture_scores
from datgan_lightning.plots import save_mixture_scatter


class MixtureMetrics(LogDirCallback):
    """Log :func:`~datgan_lightning.metrics.mixture_scores` every ``every_n_iterations`` generator iterations.

    The samples come from a fixed latent batch, so scores and plots at different iterations
    are comparable and the training random stream is not touched. The datamodule must expose
    ``means``, ``weights`` and ``std`` (as :class:`~datgan_lightning.data.GaussianMixture2D` does).
    Scores go to every logger (as ``mixture/modes``, ``mixture/hq``, ``mixture/kl``) and to
    ``mixture_metrics.json``; scatter plots at the iterations in ``plot_at`` (and the last one)
    go to ``samples/iteration_XXXXXX.png``, both under the run's log dir.

    Args:
        every_n_iterations: scoring interval in generator iterations.
        num_samples: generated samples per evaluation.
        plot_at: generator iterations at which to save a scatter plot (scored there too).
        min_share: share of samples a mode needs to count as covered.
        radius: HQ radius in standard deviations.
        seed: seed of the fixed latent batch.
    """

    def __init__(
        self,
        every_n_iterations: int = 500,
        num_samples: int = 2500,
        plot_at: Sequence[int] = (2000, 3000, 10000),
        min_share: float = 0.005,
        radius: float = 3.0,
        seed: int = 1234,
    ) -> None:
        if every_n_iterations < 1 or num_samples < 1:
            raise ValueError(
                f"MixtureMetrics: every_n_iterations={every_n_iterations} and num_samples={num_samples} must be >= 1."
            )
        self.every_n_iterations = every_n_iterations
        self.num_samples = num_samples
        self.plot_at = set(plot_at)
        self.min_share, self.radius, self.seed = min_share, radius, seed
        self.history: list[dict[str, Any]] = []
        self.samples: dict[int, torch.Tensor] = {}
        self._last_iteration = -1
        self._latent: torch.Tensor | None = None

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        dm = trainer.datamodule
        if not all(hasattr(dm, a) for a in ("means", "weights", "std")):
            raise ValueError(
                f"MixtureMetrics needs a datamodule with `means`, `weights` and `std` (got {type(dm).__name__}); "
                "use datgan_lightning.data.GaussianMixture2D or remove the callback."
            )
        generator = torch.Generator().manual_seed(self.seed)
        latent_dim = pl_module.generator.latent_dim
        self._latent = torch.randn(self.num_samples, latent_dim, generator=generator)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        iteration = pl_module.generator_iterations
        if iteration == self._last_iteration:
            return  # no generator step in this batch
        self._last_iteration = iteration
        last = iteration >= pl_module.max_iterations
        if iteration % self.every_n_iterations == 0 or iteration in self.plot_at or last:
            self.evaluate(trainer, pl_module, iteration, plot=iteration in self.plot_at or last)

    def evaluate(self, trainer: Trainer, pl_module: LightningModule, iteration: int, plot: bool) -> dict[str, Any]:
        dm = trainer.datamodule
        samples = pl_module.sample(z=self._latent.to(pl_module.device)).cpu()
        scores = mixture_scores(samples, dm.means, dm.weights, dm.std, self.min_share, self.radius)
        record = {"generator_iterations": iteration, **scores}
        self.history.append(record)
        metrics = {f"mixture/{k}": float(scores[k]) for k in ("modes", "hq", "kl")}
        for logger in trainer.loggers:
            logger.log_metrics({**metrics, "generator_iterations": float(iteration)}, step=trainer.global_step)
        if plot:
            self.samples[iteration] = samples
        self._write(self.output_dir(trainer), iteration, samples, dm, plot)
        return record

    @rank_zero_only
    def _write(self, out: Path, iteration: int, samples: torch.Tensor, dm: Any, plot: bool) -> None:
        write_json_atomic(out / "mixture_metrics.json", self.history)
        if plot:
            title = f"iteration {iteration}: {self.history[-1]['modes']} modes, HQ {self.history[-1]['hq']:.2f}"
            save_mixture_scatter(out / "samples" / f"iteration_{iteration:06d}.png", samples, dm.means, dm.std, title)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.history:
            out = self.output_dir(trainer)
            last = self.history[-1]
            rank_zero_info(
                f"Mixture metrics at iteration {last['generator_iterations']}: {last['modes']}/9 modes, "
                f"HQ share {last['hq']:.3f}, KL {last['kl']:.3f}.\n"
                f"  metrics: {out / 'mixture_metrics.json'}\n  plots:   {out / 'samples'}"
            )
