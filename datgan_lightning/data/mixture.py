"""The DAT paper's 2D mixtures of nine Gaussians (Fig. 3), sampled on the fly."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from datgan_lightning.checks import check_finite

MIXTURES = {
    # weight of each column of the 3x3 grid, left (x=-1) to right (x=1); split equally over its 3 modes
    "balanced": (1 / 3, 1 / 3, 1 / 3),
    "imbalanced": (0.15, 0.05, 0.8),
}


def nine_gaussians(mixture: str = "balanced") -> tuple[Tensor, Tensor]:
    """Means on the grid ``{-1, 0, 1}^2`` (shape ``(9, 2)``) and their weights (shape ``(9,)``)."""
    if mixture not in MIXTURES:
        raise ValueError(f"mixture={mixture!r} is unknown; use one of {tuple(MIXTURES)}.")
    grid = torch.tensor([-1.0, 0.0, 1.0])
    means = torch.cartesian_prod(grid, grid)  # x varies slowest: modes 0-2 are the left column
    weights = torch.tensor(MIXTURES[mixture]).repeat_interleave(3) / 3
    return means, weights


def sample_mixture(n: int, means: Tensor, weights: Tensor, std: float, generator: torch.Generator | None = None) -> Tensor:
    """``n`` samples of the isotropic Gaussian mixture."""
    modes = torch.multinomial(weights, n, replacement=True, generator=generator)
    return means[modes] + std * torch.randn(n, means.shape[1], generator=generator)


class MixtureBatches(IterableDataset):
    """An endless stream of batches; batch ``k`` depends only on ``(seed, rank, k)``. Iteration starts
    at batch ``start`` (0 unless a resumed run set it); with workers, worker ``w`` of ``W`` makes batches
    ``start + w``, ``start + w + W``, ..., which the DataLoader interleaves back into the order 0, 1, 2, ..."""

    def __init__(self, means: Tensor, weights: Tensor, std: float, batch_size: int, seed: int, rank: int = 0) -> None:
        self.means, self.weights, self.std = means, weights, std
        self.batch_size, self.seed, self.rank = batch_size, seed, rank
        self.start = 0

    def __iter__(self) -> Iterator[Tensor]:
        info = get_worker_info()
        worker, num_workers = (0, 1) if info is None else (info.id, info.num_workers)
        return self._batches(self.start + worker, num_workers)  # `start` is read now, not at the first batch

    def _batches(self, k: int, step: int) -> Iterator[Tensor]:
        generator = torch.Generator()
        while True:
            generator.manual_seed(hash((self.seed, self.rank, k)) & 0x7FFF_FFFF_FFFF_FFFF)
            yield sample_mixture(self.batch_size, self.means, self.weights, self.std, generator)
            k += step


class GaussianMixture2D(LightningDataModule):
    """Nine Gaussians on ``{-1, 0, 1}^2``, balanced or imbalanced (column weights 0.15/0.05/0.8).

    Args:
        mixture: ``"balanced"`` or ``"imbalanced"``.
        std: standard deviation of each mode. The paper says "variance 0.1", so the default is
            ``sqrt(0.1) = 0.316``; at that width neighbouring modes overlap (3 std = 0.95 for a
            spacing of 1), so mode dropping shows more clearly with e.g. ``std=0.05``.
        batch_size: samples per batch.
        seed: seeds the stream; each DDP rank draws its own stream.
        num_workers: DataLoader workers (sampling is cheap, 0 is usually fastest).

    Example:
        >>> dm = GaussianMixture2D("imbalanced", batch_size=4)
        >>> dm.setup("fit")
        >>> next(iter(dm.train_dataloader())).shape
        torch.Size([4, 2])
    """

    def __init__(
        self,
        mixture: str = "balanced",
        std: float = math.sqrt(0.1),
        batch_size: int = 256,
        seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        check_finite("GaussianMixture2D", std=std)
        if std <= 0:
            raise ValueError(f"std={std} is invalid; use a positive standard deviation.")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} is invalid; use an integer >= 1.")
        self.save_hyperparameters()
        self.means, self.weights = nine_gaussians(mixture)
        self.mixture, self.std, self.batch_size = mixture, float(std), batch_size
        self.seed, self.num_workers = seed, num_workers

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return sample_mixture(n, self.means, self.weights, self.std, generator)

    def train_dataloader(self) -> DataLoader:
        rank = self.trainer.global_rank if self.trainer is not None else 0
        stream = MixtureBatches(self.means, self.weights, self.std, self.batch_size, self.seed, rank)
        return MixtureLoader(stream, batch_size=None, num_workers=self.num_workers)


class MixtureLoader(DataLoader):
    """The loader of a :class:`MixtureBatches` stream, resumable: its checkpointed state is the number of
    batches trained on, and a resumed run's stream starts at the next one (exact resume)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.yielded = 0
        self.consumed: int | None = None  # set by ResumeState from the training loop (Lightning fetches ahead)
        self._resume_at = 0

    def __iter__(self):
        self.dataset.start, self._resume_at = self._resume_at, 0  # a resumed position holds for one pass
        self.yielded, self.consumed = self.dataset.start, None
        try:
            iterator = super().__iter__()  # the stream (or its workers' copies) read `start` here
        finally:
            self.dataset.start = 0
        return self._count(iterator)

    def _count(self, iterator):
        for batch in iterator:
            self.yielded += 1
            yield batch

    def position(self) -> int:
        return self.consumed if self.consumed is not None else self.yielded

    def state_dict(self) -> dict:
        return {"position": self.position()}

    def load_state_dict(self, state: dict) -> None:
        self._resume_at = int(state.get("position", 0))
