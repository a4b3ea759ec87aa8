"""Differentiable augmentations of the images D sees: ``GAN(augmentations=[...])`` trains with ``D∘T``."""

from datgan_lightning.augmentations.base import AugmentedDiscriminator, Augmentation
from datgan_lightning.augmentations.diffaugment import DiffAugment
from datgan_lightning.augmentations.ada import AdaptiveAugment

__all__ = ["AugmentedDiscriminator", "Augmentation", "DiffAugment", "AdaptiveAugment"]
