"""GAN objectives written as ``max_D E[g1(D(x_r))] + E[g2(D(x_f))]``.

Each loss exposes ``g1`` and ``g2`` (what DAT's targets and the gradient-penalty
identity of the DAT paper need), the discriminator loss (the negated objective,
to minimise) and the generator loss. ``D`` returns a raw logit everywhere.

Example:
    >>> import torch
    >>> from datgan_lightning.losses import get_loss
    >>> hinge = get_loss("hinge")
    >>> hinge.discriminator_loss(torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0]))
    tensor(0.7500)
    >>> hinge.generator_loss(torch.tensor([1.0, 3.0]))
    tensor(-2.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


class GANLoss:
    """Base class: subclasses define ``g1``, ``g2`` and ``generator_loss``."""

    name: str = ""

    def g1(self, logits: Tensor) -> Tensor:
        """Per-sample reward of D on real samples."""
        raise NotImplementedError

    def g2(self, logits: Tensor) -> Tensor:
        """Per-sample reward of D on fake samples."""
        raise NotImplementedError

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """``-(mean g1(D(x_r)) + mean g2(D(x_f)))``: D minimises this."""
        return -(self.g1(real_logits).mean() + self.g2(fake_logits).mean())

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NonSaturatingLoss(GANLoss):
    """Vanilla GAN with the non-saturating generator loss ``softplus(-D(G(z)))``."""

    name = "ns"

    def g1(self, logits: Tensor) -> Tensor:
        return -F.softplus(-logits)

    def g2(self, logits: Tensor) -> Tensor:
        return -F.softplus(logits)

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return F.softplus(-fake_logits).mean()


class MinimaxLoss(NonSaturatingLoss):
    """Vanilla GAN with the original saturating generator loss ``-softplus(D(G(z)))``."""

    name = "minimax"

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return -F.softplus(fake_logits).mean()


class HingeLoss(GANLoss):
    """Hinge loss of SNGAN, SSGAN, InfoMaxGAN and DAT's Table II."""

    name = "hinge"

    def g1(self, logits: Tensor) -> Tensor:
        return torch.clamp(logits - 1, max=0)

    def g2(self, logits: Tensor) -> Tensor:
        return torch.clamp(-logits - 1, max=0)

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return -fake_logits.mean()


class WassersteinLoss(GANLoss):
    """WGAN critic objective ``D(x_r) - D(x_f)``."""

    name = "wasserstein"

    def g1(self, logits: Tensor) -> Tensor:
        return logits

    def g2(self, logits: Tensor) -> Tensor:
        return -logits

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return -fake_logits.mean()


class LeastSquaresLoss(GANLoss):
    """LSGAN with 0/1 targets."""

    name = "lsgan"

    def g1(self, logits: Tensor) -> Tensor:
        return -((logits - 1) ** 2)

    def g2(self, logits: Tensor) -> Tensor:
        return -(logits**2)

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return ((fake_logits - 1) ** 2).mean()


LOSSES: dict[str, type[GANLoss]] = {
    cls.name: cls
    for cls in (NonSaturatingLoss, MinimaxLoss, HingeLoss, WassersteinLoss, LeastSquaresLoss)
}


def get_loss(loss: str | GANLoss) -> GANLoss:
    """Return the loss object for ``loss`` (a name from ``LOSSES`` or a ``GANLoss``)."""
    if isinstance(loss, GANLoss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"Unknown loss {loss!r}: choose one of {', '.join(sorted(LOSSES))}.")
    return LOSSES[loss]()
