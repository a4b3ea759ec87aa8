"""Differentiable augmentations of the images D sees: ``GAN(augmentations=[...])`` trains with ``D∘T``."""

from datgan_lightning.augmentations.base import AugmentedDiscriminator, Augmentation

__all__ = ["AugmentedDiscriminator", "Augmentation"]
