"""Differentiable augmentations of the images D sees: ``GAN(augmentations=[...])`` trains with ``D∘T``."""

from datgan_lightning.augmentations.ada import AdaptiveAugment
from datgan_lightning.augmentations.base import Augmentation, AugmentedDiscriminator
from datgan_lightning.augmentations.diffaugment import DiffAugment

__all__ = ["AugmentedDiscriminator", "Augmentation", "DiffAugment", "AdaptiveAugment"]
