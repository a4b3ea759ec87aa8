"""Data modules: they know data, not models."""

from datgan_lightning.data.base import ImageDataModule, ImageFiles
from datgan_lightning.data.celeba import CelebA
from datgan_lightning.data.cifar import CIFAR10, CIFAR100
from datgan_lightning.data.folders import ImageFolder, LSUNBedroom, TinyImageNet
from datgan_lightning.data.mixture import GaussianMixture2D, nine_gaussians, sample_mixture
from datgan_lightning.data.mnist import MNIST
from datgan_lightning.data.npz import NpzImages
from datgan_lightning.data.stl10 import STL10

__all__ = [
    "CIFAR10",
    "CIFAR100",
    "MNIST",
    "STL10",
    "CelebA",
    "GaussianMixture2D",
    "ImageDataModule",
    "ImageFiles",
    "ImageFolder",
    "LSUNBedroom",
    "NpzImages",
    "TinyImageNet",
    "nine_gaussians",
    "sample_mixture",
]
