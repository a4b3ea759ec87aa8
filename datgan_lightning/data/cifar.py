"""CIFAR-10 and CIFAR-100 at 32x32 (torchvision)."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset
from torchvision import datasets

from datgan_lightning.data.base import ImageDataModule


class CIFAR10(ImageDataModule):
    """CIFAR-10: 50k train / 10k test images, 32x32, with class labels.

    Args:
        root: folder holding (or to receive) ``cifar-10-batches-py``.
        download: let torchvision download the dataset into ``root``.
        kwargs: the arguments of :class:`ImageDataModule`.
    """

    name = "CIFAR-10"
    native_size = 32
    supports_download = True
    download_hint = "it should hold cifar-10-batches-py from https://www.cs.toronto.edu/~kriz/cifar.html"
    dataset_class = datasets.CIFAR10

    def __init__(self, root: str = "data/cifar10", download: bool = False, **kwargs: Any) -> None:
        super().__init__(root, **kwargs)
        self.download = download

    def make_dataset(self, split: str, transform: Any) -> Dataset:
        return self.dataset_class(str(self.root), train=split == "train", transform=transform, download=self.download)


class CIFAR100(CIFAR10):
    """CIFAR-100: 50k train / 10k test images, 32x32, with fine class labels."""

    name = "CIFAR-100"
    download_hint = "it should hold cifar-100-python from https://www.cs.toronto.edu/~kriz/cifar.html"
    dataset_class = datasets.CIFAR100

    def __init__(self, root: str = "data/cifar100", download: bool = False, **kwargs: Any) -> None:
        super().__init__(root, download, **kwargs)
