"""Image datasets stored as folders: a generic one, Tiny-ImageNet and LSUN-Bedroom."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset
from torchvision import datasets

from datgan_lightning.data.base import ImageDataModule, ImageFiles, load_image
from datgan_lightning.errors import DatasetNotFoundError


class ImageFolder(ImageDataModule):
    """Images from a folder: torchvision's ``ImageFolder`` (labels from class subfolders) when
    ``root`` has subfolders, otherwise every image file in it (labels -1). Images are resized and
    centre-cropped to ``image_size``.

    Args:
        root: the training images.
        test_root: the test images, or ``None`` for no test split.
        image_size: side of the images handed to the model.
        channels: 3 (RGB) or 1 (grayscale).
        kwargs: the other arguments of :class:`ImageDataModule`.
    """

    name = "image folder"
    download_hint = "point root at a folder of images (or of class subfolders of images)"

    def __init__(self, root: str, test_root: str | None = None, image_size: int = 64, channels: int = 3, **kwargs: Any) -> None:
        if channels not in (1, 3):
            raise ValueError(f"ImageFolder: channels={channels!r} is invalid; use 3 (RGB) or 1 (grayscale).")
        super().__init__(root, image_size=image_size, **kwargs)
        self.test_root, self.channels = test_root, channels

    def make_dataset(self, split: str, transform: Any) -> Dataset | None:
        folder = self.root if split == "train" else self.test_root
        if folder is None:
            return None
        return self.folder_dataset(folder, transform)

    @property
    def mode(self) -> str:
        return "RGB" if self.channels == 3 else "L"

    def folder_dataset(self, folder: str | Path, transform: Any) -> Dataset:
        folder = self._existing(folder)
        if any(p.is_dir() for p in folder.iterdir()):
            return datasets.ImageFolder(str(folder), transform=transform, loader=partial(load_image, mode=self.mode))
        return ImageFiles(folder, transform, self.mode)

    def _existing(self, folder: str | Path) -> Path:
        if not Path(folder).is_dir():
            raise DatasetNotFoundError(f"{type(self).__name__}: no folder at {str(folder)!r}; {self.download_hint}.")
        return Path(folder)


class TinyImageNet(ImageFolder):
    """Tiny-ImageNet-200 at 64x64: ``root/train/<wnid>/images/*.JPEG`` (100k images, class labels)
    for training and ``root/val/images`` (10k, labels -1) as the test split.

    Args:
        root: the unzipped ``tiny-imagenet-200`` folder.
        kwargs: the other arguments of :class:`ImageDataModule`.
    """

    name = "Tiny-ImageNet"
    native_size = 64
    download_hint = "unzip http://cs231n.stanford.edu/tiny-imagenet-200.zip there (it holds train/ and val/)"

    def __init__(self, root: str = "data/tiny-imagenet-200", image_size: int = 64, **kwargs: Any) -> None:
        super().__init__(root, test_root=None, image_size=image_size, **kwargs)

    def make_dataset(self, split: str, transform: Any) -> Dataset:
        folder = self.root / ("train" if split == "train" else "val")
        return self.folder_dataset(folder, transform)


class LSUNBedroom(ImageFolder):
    """LSUN-Bedroom at 64x64 from a folder of exported images (any nesting), resized along the
    short side and centre-cropped. LSUN ships as LMDB; export it to image files once (e.g. with the
    ``export`` command of https://github.com/fyu/lsun), since this library does not depend on ``lmdb``.

    Args:
        root: the folder of training images.
        test_root: a folder of held-out images (LSUN's 300-image validation set), or ``None``.
        kwargs: the other arguments of :class:`ImageDataModule`.
    """

    name = "LSUN-Bedroom images"
    download_hint = "export bedroom_train_lmdb to image files there with https://github.com/fyu/lsun (python3 data.py export ...)"

    def __init__(self, root: str = "data/lsun/bedroom_train", test_root: str | None = None, image_size: int = 64, **kwargs: Any) -> None:
        super().__init__(root, test_root=test_root, image_size=image_size, **kwargs)

    def folder_dataset(self, folder: str | Path, transform: Any) -> Dataset:
        return ImageFiles(self._existing(folder), transform, self.mode)  # nested folders are not classes here
