"""Base class of the discriminator regularizers: plain PyTorch, no Lightning."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from torch import Tensor, nn

from datgan_lightning.adversarial.base import build_from_config
from datgan_lightning.checks import number
from datgan_lightning.init_args import RecordsInitArgs
from datgan_lightning.losses import GANLoss, get_loss


@runtime_checkable
class AugmentedCritic(Protocol):
    """What a regularizer needs of a critic ``D∘T`` that draws a fresh random ``T`` on every call (the GAN
    module's augmented view of D, :class:`~datgan_lightning.augmentations.AugmentedDiscriminator`, is one).

    Comparing two calls of such a critic would compare two draws of ``T``; a regularizer that compares
    D's outputs (consistency, AR, RFM) draws ``T`` once with :meth:`augment` and runs the plain
    :attr:`discriminator` on the result. Any object with both members qualifies (no import of the wrapper).
    """

    discriminator: nn.Module

    def augment(self, x: Tensor) -> Tensor: ...


class Regularizer(RecordsInitArgs, nn.Module):
    """A term added to D's loss: ``regularizer(D, real, fake, d_real, d_fake) -> weighted scalar``.

    D minimises ``loss.discriminator_loss(d_real, d_fake) + sum of its regularizers``. The
    regularizer is an ``nn.Module`` so that state a subclass may keep (buffers, e.g. moving
    averages) travels in the owning module's ``state_dict``; it holds no trainable parameters.

    Args:
        weight: what the subclass's unweighted term is multiplied by (>= 0, finite; 0 disables it).
        every: lazy regularization (StyleGAN2): the GAN module applies the term only on D steps with
            ``step % every == 0`` and multiplies it by ``every`` there. The regularizer only stores it;
            ``forward`` always returns ``weight * term``.
        loss: the GAN loss (name or object) for regularizers whose term uses D's loss
            (:attr:`requires_loss`); ``None`` lets the GAN module fill in its own loss.

    ``forward(discriminator, real, fake, d_real, d_fake)``: ``real`` and ``fake`` are the batches D's
    GAN loss saw (possibly perturbed by DAT; ``fake`` detached from G), ``d_real`` and ``d_fake`` D's
    logits on them, shape ``(N,)``, with their graph; a subclass may use them or run D itself.
    """

    def __init__(self, weight: float, every: int = 1, loss: str | GANLoss | None = None) -> None:
        super().__init__()
        name = type(self).__name__
        self.weight = float(number(weight, f"{name}: weight", minimum=0, fix="use a finite number >= 0 (0 disables the term)"))
        self.every = number(every, f"{name}: every", integer=True, minimum=1, fix="use an integer >= 1 (1 applies the term on every D step)")
        self.loss = None if loss is None else get_loss(loss)

    def forward(self, discriminator: nn.Module, real: Tensor, fake: Tensor, d_real: Tensor, d_fake: Tensor) -> Tensor:
        raise NotImplementedError

    @property
    def requires_loss(self) -> bool:
        """Whether the term uses D's loss (``g1``/``g2``), so needs :attr:`loss`."""
        return False

    def _loss(self) -> GANLoss:
        if self.loss is None:
            raise ValueError(
                f"{type(self).__name__} needs a GAN loss: pass loss='ns' (or 'hinge', ...) "
                "or use it inside a GAN module, which sets its own loss."
            )
        return self.loss

    @staticmethod
    def from_config(config: dict[str, Any]) -> Regularizer:
        """Rebuild a regularizer from :meth:`config`'s output."""
        return build_from_config(config, Regularizer, "regularizer")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config()["init_args"].items())
        return f"{type(self).__name__}({args})"
