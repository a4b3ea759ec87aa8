"""CelebA at 64x64 (torchvision)."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset
from torchvision import datasets, transforms

from datgan_lightning.data.base import ImageDataModule


class CelebA(ImageDataModule):
    """CelebA aligned faces: the official train split for training and test split for test metrics,
    centre-cropped to ``crop`` pixels (the face, 140 by default) and resized to ``image_size`` (64).
    Labels are the identity numbers.

    Args:
        root: folder holding (or to receive) ``celeba/`` (``img_align_celeba`` and the list files).
        download: let torchvision download the dataset into ``root`` (from Google Drive, often rate-limited).
        crop: side of the centre crop of the 178x218 images before resizing; ``None`` resizes the whole image.
        kwargs: the arguments of :class:`ImageDataModule`.
    """

    name = "CelebA"
    supports_download = True
    download_hint = "it should hold celeba/img_align_celeba and the list_*.txt files from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"

    def __init__(self, root: str = "data", download: bool = False, image_size: int = 64, crop: int | None = 140, **kwargs: Any) -> None:
        super().__init__(root, image_size=image_size, **kwargs)
        self.download, self.crop = download, crop

    def image_transforms(self) -> list[Any]:
        crop = [] if self.crop is None else [transforms.CenterCrop(self.crop)]
        return [*crop, transforms.Resize(self.image_size), transforms.CenterCrop(self.image_size)]

    def make_dataset(self, split: str, transform: Any) -> Dataset:
        return datasets.CelebA(str(self.root), split=split, target_type="identity", transform=transform, download=self.download)
