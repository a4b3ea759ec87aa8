"""Base of the differentiable augmentations D sees (DiffAugment, ADA-style): plain PyTorch, no Lightning."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from datgan_lightning.adversarial.base import build_from_config
from datgan_lightning.init_args import RecordsInitArgs


class Augmentation(RecordsInitArgs, nn.Module):
    """A differentiable, per-sample random transform ``T`` of a batch of images in [-1, 1].

    The GAN module trains with ``D∘T``: every image D sees in its loss, real and fake, in the D step
    and in the G step (gradients reach G through ``T``), goes through the module's augmentations
    in list order, and so do the inputs of perturbation strategies (DAT attacks ``D∘T``) and
    regularizers. ``T`` draws its random parameters per sample, so a batch of reals and fakes
    concatenated for one D forward is augmented as if each were augmented alone.

    An ``nn.Module`` so that adaptive state (ADA's probability ``p``) travels in the checkpoint.
    A subclass implements :meth:`forward` and, if it adapts, :meth:`observe`.
    """

    def forward(self, images: Tensor) -> Tensor:
        raise NotImplementedError

    def observe(self, d_real: Tensor) -> None:
        """Called with D's logits on the (augmented) real batch after each D loss; adaptive
        augmentations (ADA's overfitting heuristic) update their state here. Default: nothing."""

    @staticmethod
    def from_config(config: dict[str, Any]) -> Augmentation:
        return build_from_config(config, Augmentation, "augmentation")


class AugmentedDiscriminator(nn.Module):
    """``D∘T``: ``discriminator(T_k(...T_1(x)))``, sharing D's modules (a view built per step by the
    GAN module, never registered, so checkpoints hold D once). ``features`` (AR/RFM) is augmented too.

    Example:
        >>> import torch
        >>> class Flip(Augmentation):
        ...     def forward(self, images):
        ...         return -images
        >>> D = torch.nn.Linear(2, 1)
        >>> view = AugmentedDiscriminator(D, [Flip()])
        >>> torch.equal(view(torch.ones(1, 2)), D(-torch.ones(1, 2)))
        True
    """

    def __init__(self, discriminator: nn.Module, augmentations: Sequence[Augmentation]) -> None:
        super().__init__()
        self.discriminator = discriminator
        self.augmentations = list(augmentations)  # plain list: not registered twice
        self.training = discriminator.training  # a mode saved and restored through the view is D's

    def augment(self, x: Tensor) -> Tensor:
        for augmentation in self.augmentations:
            x = augmentation(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self.discriminator(self.augment(x))

    def features(self, x: Tensor) -> Tensor:
        return self.discriminator.features(self.augment(x))
