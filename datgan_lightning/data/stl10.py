"""STL-10 unlabeled images at 48x48 (the SNGAN/DAT protocol), test split for test metrics."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset
from torchvision import datasets

from datgan_lightning.data.base import ImageDataModule


class STL10(ImageDataModule):
    """STL-10: the 100k ``unlabeled`` 96x96 images for training, the 8k ``test`` images for test
    metrics, resized to ``image_size`` (48 by default).

    Args:
        root: folder holding (or to receive) ``stl10_binary``.
        download: let torchvision download the dataset (2.6 GB) into ``root``.
        kwargs: the arguments of :class:`ImageDataModule`.
    """

    name = "STL-10"
    native_size = 96
    supports_download = True
    download_hint = "it should hold stl10_binary from https://cs.stanford.edu/~acoates/stl10/"

    def __init__(self, root: str = "data/stl10", download: bool = False, image_size: int = 48, **kwargs: Any) -> None:
        super().__init__(root, image_size=image_size, **kwargs)
        self.download = download

    def make_dataset(self, split: str, transform: Any) -> Dataset:
        return datasets.STL10(str(self.root), split="unlabeled" if split == "train" else "test", transform=transform, download=self.download)
