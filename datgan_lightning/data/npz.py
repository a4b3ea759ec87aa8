"""Images held in a ``.npz`` file, loaded into memory (e.g. the offline CIFAR-10 subset)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, TensorDataset

from datgan_lightning.data.base import (
    HeldOutValidation,
    check_subset_fraction,
    check_training_set_size,
    subset_indices,
    subset_options_without_effect,
)
from datgan_lightning.data.resumable import ResumableDataLoader
from datgan_lightning.errors import ConfigurationError, DatasetNotFoundError


def to_unit_range(images: np.ndarray, name: str = "images") -> torch.Tensor:
    """Images ``(N, C, H, W)`` (or ``(N, H, W)``) -> float32 in [-1, 1], from one of the documented encodings:

    * ``uint8`` in [0, 255]: ``x / 127.5 - 1``;
    * floats (``float16``/``32``/``64``) whose values all lie in [0, 1]: ``2 x - 1`` (so an all-non-negative
      float array is read as [0, 1]; one with a negative value must lie in [-1, 1]);
    * floats in [-1, 1] with a negative value: kept as they are.

    Anything else (other dtypes, NaN/inf, floats outside [-1, 1], a channels-last ``(N, H, W, C)`` array) is
    refused with one sentence naming the array (``name``), what it holds and the fix.

    Raises:
        ConfigurationError: the array is not one of the documented encodings or layouts.
    """
    if images.ndim not in (3, 4):
        raise ConfigurationError(f"NpzImages: {name} has shape {images.shape}; use images of shape (N, C, H, W) (or (N, H, W) for grayscale).")
    if images.ndim == 4 and images.shape[3] in (1, 3, 4) and images.shape[1] not in (1, 3, 4):
        raise ConfigurationError(
            f"NpzImages: {name} has shape {images.shape}, which looks channels-last (N, H, W, C); NpzImages expects "
            f"(N, C, H, W): save it as {name}=x.transpose(0, 3, 1, 2)."
        )
    if images.dtype == np.uint8:
        scale, shift = 1 / 127.5, -1.0
    elif np.issubdtype(images.dtype, np.floating):
        low, high = (float(images.min()), float(images.max())) if images.size else (0.0, 0.0)
        if not (np.isfinite(low) and np.isfinite(high)) or low < -1 or high > 1:
            values = "NaN or inf" if not (np.isfinite(low) and np.isfinite(high)) else f"values in [{low:g}, {high:g}]"
            raise ConfigurationError(
                f"NpzImages: {name} is {images.dtype} with {values}; use uint8 in [0, 255] or floats in [0, 1] or [-1, 1] "
                "(e.g. save x / 255 for floats in [0, 255])."
            )
        scale, shift = (2.0, -1.0) if low >= 0 else (1.0, 0.0)  # all non-negative: [0, 1]; else [-1, 1]
    else:
        raise ConfigurationError(
            f"NpzImages: {name} is {images.dtype}; use uint8 in [0, 255] (e.g. save x.astype(np.uint8)) or floats in [0, 1] or [-1, 1]."
        )
    x = torch.from_numpy(np.ascontiguousarray(images))
    if x.dim() == 3:
        x = x.unsqueeze(1)
    return x.float().mul(scale).add(shift)


class NpzImages(HeldOutValidation, LightningDataModule):
    """Train and test images (and labels, when present) from one ``.npz`` file.

    The file holds arrays ``{split}_x`` of shape ``(N, C, H, W)`` (or ``(N, H, W)``) and optionally
    ``{split}_y``, for ``split`` in ``train``/``test`` (the layout of ``cifar10_subset.npz``). Images are
    uint8 in [0, 255], or floats in [0, 1] (read as such when no value is negative) or in [-1, 1]
    (:func:`to_unit_range`); they are scaled to [-1, 1]. Other dtypes or ranges and channels-last arrays
    are refused with one sentence when the data is set up. Batches are ``(images, labels)``, labels
    ``-1`` when the file has none.

    Args:
        path: the ``.npz`` file.
        batch_size: images per batch (the last incomplete training batch is dropped).
        num_workers, pin_memory: DataLoader settings.
        seed: seeds the shuffling of the training set.
        subset_fraction, subset_seed: train on a seeded random ``subset_fraction`` of the training
            images (:func:`~datgan_lightning.data.base.subset_indices`), e.g. 0.1 for 10%; 1 keeps them all.
            The test split is never subsampled.

    Raises:
        ValueError: ``batch_size`` or ``subset_fraction`` out of range (one sentence with the fix).
        ConfigurationError: in :meth:`setup`, an image array of another dtype, range or layout.

    Example (the offline CIFAR-10 subset, 20% of its 4,660 training images):
        >>> data = NpzImages("../shared/data/cifar10_subset.npz", subset_fraction=0.2)  # doctest: +SKIP
        >>> data.setup(); len(data.train_dataset), len(data.test_dataset)  # doctest: +SKIP
        (932, 846)
    """

    def __init__(
        self, path: str, batch_size: int = 64, num_workers: int = 0, pin_memory: bool = False, seed: int = 0,
        subset_fraction: float = 1.0, subset_seed: int = 0,
    ) -> None:
        super().__init__()
        check_subset_fraction("NpzImages", subset_fraction)
        # names the images, e.g. for the real-feature cache (subset options only when they select a subset)
        self.save_hyperparameters(logger=False, ignore=subset_options_without_effect(subset_fraction))
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} is invalid; use an integer >= 1.")
        self.path, self.batch_size = Path(path), batch_size
        self.num_workers, self.pin_memory, self.seed = num_workers, pin_memory, seed
        self.subset_fraction, self.subset_seed = float(subset_fraction), subset_seed
        self.splits: dict[str, TensorDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        if not self.path.is_file():
            raise DatasetNotFoundError(
                f"NpzImages: path={str(self.path)!r} does not exist; point `path` at an .npz file holding "
                "uint8 arrays train_x/test_x of shape (N, C, H, W), such as ../shared/data/cifar10_subset.npz."
            )
        splits = {}
        try:
            with np.load(self.path) as arrays:
                for split in ("train", "test"):
                    if f"{split}_x" not in arrays:
                        if split == "train":
                            raise ConfigurationError(f"NpzImages: {self.path} has no 'train_x' array (it has {sorted(arrays)}).")
                        continue
                    x = to_unit_range(arrays[f"{split}_x"], f"{split}_x")
                    y = torch.from_numpy(arrays[f"{split}_y"]).long() if f"{split}_y" in arrays else torch.full((len(x),), -1)
                    if split == "train" and self.subset_fraction < 1:
                        keep = subset_indices(len(x), self.subset_fraction, self.subset_seed)
                        x, y = x[keep], y[keep]
                    splits[split] = TensorDataset(x, y)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            if isinstance(err, ConfigurationError):
                raise
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0].split(". ")[0].rstrip(".")
            raise ConfigurationError(f"NpzImages: cannot read {str(self.path)!r} as an .npz file ({reason}); point `path` at an intact .npz.") from err
        self.splits = splits

    @property
    def image_shape(self) -> tuple[int, ...]:
        """``(C, H, W)`` of the training images (after :meth:`setup`)."""
        return tuple(self.splits["train"].tensors[0].shape[1:])

    @property
    def train_dataset(self) -> TensorDataset | None:
        return self.splits.get("train")

    @property
    def test_dataset(self) -> TensorDataset | None:
        return self.splits.get("test")

    def train_dataloader(self) -> DataLoader:
        self.check_trainable()
        generator = torch.Generator().manual_seed(self.seed)
        return self._loader("train", shuffle=True, drop_last=True, generator=generator, loader_class=ResumableDataLoader)

    def check_trainable(self) -> None:
        """Refuse a training set smaller than one batch (see :meth:`ImageDataModule.check_trainable`)."""
        if "train" in self.splits:
            check_training_set_size(self, self.splits["train"], f"path={str(self.path)!r}")

    def test_dataloader(self) -> DataLoader:
        if "test" not in self.splits:
            raise ValueError(f"NpzImages: {self.path} has no 'test_x' array, so there is no test split.")
        return self._loader("test", shuffle=False, drop_last=False)

    def _loader(self, split: str, loader_class: type[DataLoader] = DataLoader, **kwargs) -> DataLoader:
        return loader_class(
            self.splits[split], batch_size=self.batch_size, num_workers=self.num_workers, pin_memory=self.pin_memory, **kwargs
        )
