"""The base of the image datamodules: transforms to [-1, 1], seeded loaders, clear errors."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.trainer.states import TrainerFn
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision import transforms
from torchvision.datasets.folder import IMG_EXTENSIONS

from datgan_lightning.data.resumable import ResumableDataLoader
from datgan_lightning.errors import CorruptImageError, DatasetNotFoundError, DatasetTooSmallError


class HeldOutValidation:
    """``val_dataloader`` for ``trainer.validate``: the test split, which the metric callbacks compare
    samples with. Empty during ``fit``: GAN training is scored on the callbacks' own schedule in
    generator iterations, and a pass of no-op validation steps over the split every epoch would only
    cost time."""

    def val_dataloader(self) -> Any:
        if self.trainer is not None and self.trainer.state.fn == TrainerFn.FITTING:
            return []
        return self.test_dataloader()


class ImageDataModule(HeldOutValidation, LightningDataModule):
    """Images in [-1, 1] from ``root``, as ``(images, labels)`` batches, with a train and a test split.

    Subclasses name the dataset and build its splits with :meth:`make_dataset`; this class checks the
    root, builds the transform (optional centre crop, resize to ``image_size``, scale to [-1, 1]) and
    the loaders. ``train_dataset`` and ``test_dataset`` are exposed after :meth:`setup` for metrics.

    Args:
        root: where the dataset lives.
        image_size: side of the square images handed to the model; ``None`` keeps the dataset's
            ``native_size``.
        batch_size: images per batch (the last incomplete training batch is dropped).
        num_workers, pin_memory: DataLoader settings.
        seed: seeds the shuffling of the training set.
        subset_fraction, subset_seed: train on a seeded random ``subset_fraction`` of the training
            images (see :func:`subset_indices`), e.g. 0.1 for the limited-data setting of DiffAugment;
            1 (default) keeps them all. The test split is never subsampled.

    Raises:
        ValueError: ``image_size``, ``batch_size`` or ``subset_fraction`` out of range (one sentence with the fix).
    """

    name = "images"
    native_size: int | None = None  # side of the stored images when fixed
    channels = 3
    download_hint = ""  # how to get the data, for the missing-root message
    supports_download = False

    def __init__(
        self,
        root: str,
        image_size: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        seed: int = 0,
        subset_fraction: float = 1.0,
        subset_seed: int = 0,
    ) -> None:
        super().__init__()
        check_subset_fraction(type(self).__name__, subset_fraction)
        # every subclass's init arguments (crop, test_root, subset_fraction, ...): they name the dataset's
        # pixels, e.g. for the real-feature cache; logger=False keeps them out of the loggers' merged hparams
        self.save_hyperparameters(logger=False, ignore=subset_options_without_effect(subset_fraction))
        image_size = self.native_size if image_size is None else image_size
        if image_size is None or image_size < 1:
            raise ValueError(f"{type(self).__name__}: image_size={image_size!r} is invalid; use a positive number of pixels.")
        if batch_size < 1:
            raise ValueError(f"{type(self).__name__}: batch_size={batch_size!r} is invalid; use an integer >= 1.")
        self.root, self.image_size, self.batch_size = Path(root), int(image_size), batch_size
        self.num_workers, self.pin_memory, self.seed = num_workers, pin_memory, seed
        self.subset_fraction, self.subset_seed = float(subset_fraction), subset_seed
        self.download = False
        self.train_dataset: Dataset | None = None
        self.test_dataset: Dataset | None = None

    # ------------------------------------------------------------ for subclasses
    def make_dataset(self, split: str, transform: Any) -> Dataset | None:
        """The ``"train"`` or ``"test"`` split with ``transform`` applied; ``None`` if there is none."""
        raise NotImplementedError

    def image_transforms(self) -> list[Any]:
        """PIL transforms before scaling to [-1, 1]: resize and centre-crop unless the images are native size."""
        if self.image_size == self.native_size:
            return []
        return [transforms.Resize(self.image_size), transforms.CenterCrop(self.image_size)]

    # ------------------------------------------------------------------- public
    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the images this datamodule yields."""
        return (self.channels, self.image_size, self.image_size)

    def prepare_data(self) -> None:
        if self.download:
            self.make_dataset("train", None)  # torchvision downloads once, on one process
            self.make_dataset("test", None)

    def setup(self, stage: str | None = None) -> None:
        if self.train_dataset is not None:
            return
        if not self.download and not self.root.exists():
            raise DatasetNotFoundError(self.missing_message())
        transform = transforms.Compose([*self.image_transforms(), transforms.ToTensor(), transforms.Normalize([0.5] * self.channels, [0.5] * self.channels)])
        try:
            train_dataset = self.make_dataset("train", transform)
            test_dataset = self.make_dataset("test", transform)
        except RuntimeError as err:  # torchvision: "Dataset not found or corrupted"
            raise DatasetNotFoundError(f"{self.missing_message()} (torchvision said: {_first_line(err)})") from err
        except FileNotFoundError as err:
            if isinstance(err, DatasetNotFoundError):
                raise
            # torchvision's ImageFolder: "Found no valid file for the classes ..." (class folders without images)
            raise DatasetNotFoundError(f"{self.missing_message()} (torchvision said: {_first_line(err)})") from err
        if self.subset_fraction < 1:
            train_dataset = Subset(train_dataset, subset_indices(len(train_dataset), self.subset_fraction, self.subset_seed).tolist())
        self.train_dataset, self.test_dataset = train_dataset, test_dataset

    def missing_message(self) -> str:
        fix = f"{self.download_hint}; or pass --data.init_args.download=true to download it there" if self.supports_download else self.download_hint
        return f"{type(self).__name__}: no {self.name} found at root={str(self.root)!r}; {fix}."

    def train_dataloader(self) -> DataLoader:
        """Shuffled by a generator seeded with ``seed``; resumable (a checkpoint holds its position, see
        :class:`~datgan_lightning.data.resumable.ResumableDataLoader`)."""
        self.check_trainable()
        generator = torch.Generator().manual_seed(self.seed)
        return self._loader(self.train_dataset, shuffle=True, drop_last=True, generator=generator, loader_class=ResumableDataLoader)

    def check_trainable(self) -> None:
        """Refuse (one sentence naming the root, the count and the batch size) a training set smaller
        than one batch, which the training loader's ``drop_last`` would turn into no training at all.
        Called by :meth:`train_dataloader`, and by ``datgan fit`` before the run starts."""
        if self.train_dataset is not None:
            check_training_set_size(self, self.train_dataset, f"root={str(self.root)!r}")

    def test_dataloader(self) -> DataLoader:
        if self.test_dataset is None:
            raise ValueError(f"{type(self).__name__}: {self.name} at {str(self.root)!r} has no test split.")
        return self._loader(self.test_dataset, shuffle=False, drop_last=False)

    def _loader(self, dataset: Dataset | None, loader_class: type[DataLoader] = DataLoader, **kwargs: Any) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}: call setup() before asking for a loader.")
        return loader_class(dataset, batch_size=self.batch_size, num_workers=self.num_workers, pin_memory=self.pin_memory,
                          persistent_workers=self.num_workers > 0, **kwargs)


class ImageFiles(Dataset):
    """Every image file under ``root`` (recursively, sorted), as ``(image, -1)``: for unlabeled folders
    such as an LSUN export or Tiny-ImageNet's ``val/images``.

    Args:
        root: the folder.
        transform: applied to the PIL image.
        mode: PIL mode the images are converted to (``"RGB"`` or ``"L"``).
    """

    def __init__(self, root: str | Path, transform: Any = None, mode: str = "RGB") -> None:
        self.root, self.transform, self.mode = Path(root), transform, mode
        self.files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in IMG_EXTENSIONS)
        if not self.files:
            raise DatasetNotFoundError(f"ImageFiles: no image files ({', '.join(IMG_EXTENSIONS)}) under {str(self.root)!r}.")

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = load_image(self.files[index], self.mode)
        return (image if self.transform is None else self.transform(image)), -1


def load_image(path: str | Path, mode: str = "RGB") -> Image.Image:
    """Open an image file and convert it to ``mode`` (``"RGB"`` or ``"L"``); a file PIL cannot decode
    raises :class:`~datgan_lightning.errors.CorruptImageError` naming it."""
    try:
        with Image.open(path) as image:
            return image.convert(mode)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:  # PIL: UnidentifiedImageError, truncated data
        raise CorruptImageError(f"cannot read the image file {str(path)!r} ({_first_line(err)}); remove or replace it.") from err


def check_training_set_size(datamodule: Any, dataset: Any, where: str) -> None:
    """Refuse a training set with fewer samples than one batch: with ``drop_last`` (the training loaders
    drop the last incomplete batch) there would be nothing to train on."""
    n, batch_size = len(dataset), datamodule.batch_size
    if n < batch_size:
        found = "no samples" if n == 0 else f"only {n} sample{'s' if n != 1 else ''}"
        fix = "point it at the data" if n == 0 else f"lower --data.init_args.batch_size to at most {n} or add data"
        raise DatasetTooSmallError(
            f"{type(datamodule).__name__}: the training set at {where} has {found}, fewer than one batch "
            f"(batch_size={batch_size}; the last incomplete batch is dropped, so nothing would train); {fix}."
        )


def check_subset_fraction(owner: str, subset_fraction: float) -> None:
    """Refuse a ``subset_fraction`` outside (0, 1] (or not a number) with one sentence naming the fix."""
    ok = isinstance(subset_fraction, (int, float)) and not isinstance(subset_fraction, bool) and math.isfinite(subset_fraction)
    if not ok or not 0 < subset_fraction <= 1:
        raise ValueError(
            f"{owner}: subset_fraction={subset_fraction!r} is invalid; use a fraction of the training images "
            "in (0, 1], e.g. 0.1 for 10% (1 keeps them all)."
        )


def subset_options_without_effect(subset_fraction: float) -> list[str]:
    """The subset options to leave out of a datamodule's hyperparameters: both when it keeps every image,
    so the full dataset (whatever ``subset_seed``) has the real-feature cache key it had before the
    options existed; none otherwise, so each fraction and seed has its own key."""
    return ["subset_fraction", "subset_seed"] if subset_fraction == 1 else []


def subset_indices(n: int, fraction: float, seed: int) -> torch.Tensor:
    """The sorted indices of a seeded random ``round(fraction * n)`` of ``n`` training images.

    The first ``k`` of one seeded permutation: the same seed gives the same subset on every machine
    (``torch.Generator`` is platform independent), and with one seed a smaller fraction is contained
    in a larger one (the 10% images are among the 20% ones), so fractions differ only in the amount of data.

    Args:
        n: size of the full training set.
        fraction: share to keep, in (0, 1].
        seed: seed of the permutation.

    Example:
        >>> subset_indices(10, 0.3, seed=0).tolist()
        [1, 4, 7]
        >>> set(subset_indices(10, 0.3, seed=0).tolist()) <= set(subset_indices(10, 0.6, seed=0).tolist())
        True
    """
    check_subset_fraction("subset_indices", fraction)
    permutation = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return permutation[: round(fraction * n)].sort().values


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
