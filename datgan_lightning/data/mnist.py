"""MNIST, from torchvision's layout or from a folder of IDX files (e.g. only the 10k test split)."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch.utils.data import Dataset
from torchvision import datasets, transforms

from datgan_lightning.data.base import ImageDataModule
from datgan_lightning.errors import DatasetNotFoundError

IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (``.gz`` or not) as a numpy array: a 4-byte magic (type code 0x08, unsigned byte,
    then the number of dimensions), one big-endian int32 per dimension, then the data."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"read_idx: {path} is not an unsigned-byte IDX file.")
    ndim = data[3]
    shape = np.frombuffer(data, dtype=">i4", count=ndim, offset=4)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find_idx(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


class IDXImages(Dataset):
    """Grayscale images and labels from a pair of IDX files, as ``(PIL image, label)``."""

    def __init__(self, images_file: Path, labels_file: Path | None, transform: Any = None) -> None:
        self.images = read_idx(images_file)
        self.labels = read_idx(labels_file).astype(np.int64) if labels_file is not None else np.full(len(self.images), -1)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = Image.fromarray(self.images[index], mode="L")
        return (image if self.transform is None else self.transform(image)), int(self.labels[index])


class MNIST(ImageDataModule):
    """MNIST digits, 28x28 grayscale, padded with background to 32x32 by default (``image_size=32``)
    so the 32x32 DCGAN nets take them unchanged; ``image_size=28`` keeps them as they are, other
    sizes resize.

    ``root`` may be torchvision's layout (``root/MNIST/raw``, what ``download=true`` creates) or a
    folder of IDX files (``.gz`` or not). If that folder holds only the test split
    (``t10k-images-idx3-ubyte``), its 10k images are the training set, and the test split is the
    same images (say so when you report test metrics).

    Args:
        root: the folder.
        download: let torchvision download MNIST into ``root``.
        kwargs: the arguments of :class:`ImageDataModule`.
    """

    name = "MNIST"
    native_size = 28
    channels = 1
    supports_download = True
    download_hint = "it should hold MNIST/raw (torchvision's layout) or the IDX files t10k-images-idx3-ubyte[.gz] (and train-*)"

    def __init__(self, root: str = "data/mnist", download: bool = False, image_size: int = 32, **kwargs: Any) -> None:
        super().__init__(root, image_size=image_size, **kwargs)
        self.download = download

    def image_transforms(self) -> list[Any]:
        if self.image_size == 32:
            return [transforms.Pad(2, fill=0)]  # 28 + 2 * 2 pixels of background
        return super().image_transforms()

    def make_dataset(self, split: str, transform: Any) -> Dataset:
        if self.download or (self.root / "MNIST" / "raw").is_dir():
            return datasets.MNIST(str(self.root), train=split == "train", transform=transform, download=self.download)
        images_name, labels_name = IDX_FILES[split]
        images = find_idx(self.root, images_name)
        if images is None and split == "train":
            images_name, labels_name = IDX_FILES["test"]  # the test-split-only layout: train on its 10k images
            images = find_idx(self.root, images_name)
        if images is None:
            raise DatasetNotFoundError(self.missing_message())
        return IDXImages(images, find_idx(self.root, labels_name), transform)
