"""Consistency regularization: CR (Zhang et al., "Consistency Regularization for Generative
Adversarial Networks", ICLR 2020) and bCR (Zhao et al., "Improved Consistency Regularization for
GANs", AAAI 2021).

D should not care about a semantics-preserving augmentation ``T`` of its input:

    bCR:  λ_real · mean_i (D(T(x_r,i)) − D(x_r,i))² + λ_fake · mean_j (D(T(x_f,j)) − D(x_f,j))²
    CR:   λ · mean_i (D(T(x_r,i)) − D(x_r,i))²                         (reals only)

on D's logits (the papers' default layer), with a fresh ``T`` per sample and call. Both sides keep
their graph, so the term trains D on the clean and the augmented input alike. ``D(x)`` is the logit
D's GAN loss computed (``d_real``/``d_fake``, no extra forward); ``D(T(x))`` is one more forward per
batch. Defaults are the papers' CIFAR-10 settings: λ = 10 (CR), λ_real = λ_fake = 10 (bCR), and
``T`` = a horizontal flip and a shift of a few pixels: ``DiffAugment(policy="flip,translation")``,
a flip with probability 1/2 and an integer shift of up to 1/8 of the side (±4 px at 32×32) with
zero fill (the papers do not pin the fill). Pass any
:class:`~datgan_lightning.augmentations.Augmentation` as ``augmentation``.

**With** ``GAN(augmentations=[A])``: the ``discriminator`` a regularizer receives is ``D∘A``, which
draws a fresh ``A`` per call. Comparing two calls would compare two random draws of ``A`` (not zero
even for ``T`` = identity), so here ``A`` is drawn once per batch and the term goes through the plain
D: ``mean (D(T(A(x))) − D(A(x)))²``, one extra D forward per batch for ``D(A(x))`` (the loss's
``d_real`` came from another draw). bCR and DiffAugment both make D invariant to augmentations (bCR by
a penalty, DiffAugment by training on augmented data only); the bCR paper uses no DiffAugment, and
stacking them is an experiment, not a recipe.
With DAT, ``x`` are the perturbed batches D's loss saw.

Example:
    >>> import torch
    >>> from datgan_lightning.augmentations import Augmentation
    >>> from datgan_lightning.regularizers import BCR
    >>> class Negate(Augmentation):
    ...     def forward(self, images):
    ...         return -images
    >>> D = torch.nn.Linear(2, 1, bias=False)
    >>> _ = torch.nn.init.constant_(D.weight, 1.0)
    >>> real, fake = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5, 0.0]])
    >>> BCR(weight_real=1.0, weight_fake=2.0, augmentation=Negate())(D, real, fake)  # (−3 − 3)² + 2·(−0.5 − 0.5)²
    tensor(38., grad_fn=<MulBackward0>)
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from datgan_lightning.augmentations.base import Augmentation
from datgan_lightning.augmentations.diffaugment import DiffAugment
from datgan_lightning.checks import number, require
from datgan_lightning.regularizers.base import AugmentedCritic, Regularizer
from datgan_lightning.utils import logits

DEFAULT_POLICY = "flip,translation"  # CR/bCR on CIFAR-10: flip and shift by a few pixels


def _augmentation(augmentation: Augmentation | dict[str, Any] | None, name: str) -> Augmentation:
    if augmentation is None:
        return DiffAugment(policy=DEFAULT_POLICY)
    if isinstance(augmentation, dict):
        augmentation = Augmentation.from_config(augmentation)
    fix = "use an Augmentation from datgan_lightning.augmentations (e.g. DiffAugment(policy='flip,translation'))"
    require(isinstance(augmentation, Augmentation), f"{name}: augmentation", augmentation, fix)
    return augmentation


class ConsistencyRegularization(Regularizer):
    """``weight · Σ_positions λ_pos · mean (D(T(x)) − D(x))²``: the common form of :class:`BCR` (``weight = 1``)
    and :class:`CR` (``λ_real = 1``, ``λ_fake = 0``, its λ as ``weight``)."""

    def __init__(
        self, weight_real: float, weight_fake: float, augmentation: Augmentation | dict | None, every: int, weight: float = 1.0
    ) -> None:
        super().__init__(weight, every)
        name = type(self).__name__
        fix = "use a finite number >= 0 (0 disables that half of the term)"
        self.weight_real = float(number(weight_real, f"{name}: weight_real", minimum=0, fix=fix))
        self.weight_fake = float(number(weight_fake, f"{name}: weight_fake", minimum=0, fix=fix))
        self.augmentation = _augmentation(augmentation, name)

    def forward(
        self, discriminator: nn.Module, real: Tensor, fake: Tensor, d_real: Tensor | None = None, d_fake: Tensor | None = None
    ) -> Tensor | float:
        if isinstance(discriminator, AugmentedCritic):  # draw the GAN's A once per batch: T(A(x)) vs A(x)
            real, fake = discriminator.augment(real.detach()), discriminator.augment(fake.detach())
            discriminator, d_real, d_fake = discriminator.discriminator, None, None
        total: Tensor | float = 0.0
        for x, d_x, weight in ((real, d_real, self.weight_real), (fake, d_fake, self.weight_fake)):
            if weight == 0:
                continue
            d_x = logits(discriminator, x) if d_x is None else d_x.reshape(len(x), -1)[:, 0]
            d_augmented = logits(discriminator, self.augmentation(x.detach()))
            total = total + weight * (d_augmented - d_x).pow(2).mean()
        return self.weight * total


class BCR(ConsistencyRegularization):
    """Balanced consistency regularization (Zhao et al. 2021) on reals and fakes.

    Args:
        weight_real: λ_real (default 10, the paper's CIFAR-10 setting).
        weight_fake: λ_fake (default 10, likewise).
        augmentation: ``T`` (default: flip + translation by up to 1/8 of the side, ``DiffAugment(policy="flip,translation")``).
        every: lazy regularization period (>= 1).
    """

    def __init__(
        self, weight_real: float = 10.0, weight_fake: float = 10.0, augmentation: Augmentation | None = None, every: int = 1
    ) -> None:
        super().__init__(weight_real, weight_fake, augmentation, every)


class CR(ConsistencyRegularization):
    """Consistency regularization (Zhang et al. 2020): reals only, ``weight · mean (D(T(x_r)) − D(x_r))²``.

    Args:
        weight: λ (default 10, the paper's).
        augmentation: ``T`` (default: flip + translation by up to 1/8 of the side).
        every: lazy regularization period (>= 1).
    """

    def __init__(self, weight: float = 10.0, augmentation: Augmentation | None = None, every: int = 1) -> None:
        super().__init__(1.0, 0.0, augmentation, every, weight=weight)
