"""FGSM: one untargeted sign step against D's objective (AS-GAN, ASGAN baseline).

:func:`sign_step` is the one L-inf sign step of the library: the :class:`FGSM` strategy, AS-GAN's attack
on the reals, every PGD step (:func:`~datgan_lightning.adversarial.pgd.pgd_ascent`) and the FGSM
accuracy of :mod:`~datgan_lightning.metrics.robustness` take it.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from datgan_lightning.adversarial.base import POSITIONS, PerturbationStrategy
from datgan_lightning.losses import GANLoss
from datgan_lightning.utils import discriminate


def sign_step(x: Tensor, grad: Tensor, step_size: float, data_range: tuple[float, float] | None = None) -> Tensor:
    """``clamp(x + step_size * sign(grad), data_range)``: one L-inf step up ``grad`` (a negative
    ``step_size`` steps down), detached; ``data_range=None`` leaves the result unclamped.

    Example:
        >>> import torch
        >>> sign_step(torch.zeros(3), torch.tensor([2.0, -0.5, 0.0]), 0.1)
        tensor([ 0.1000, -0.1000,  0.0000])
    """
    x = x.detach() + step_size * grad.sign()
    return x if data_range is None else x.clamp(*data_range)


def discriminator_objective(loss: GANLoss, d_real: Tensor, d_fake: Tensor, positions: Sequence[str]) -> Tensor:
    """``sum g1(D(x_r)) + sum g2(D(x_f))`` over the selected positions (summed: each sample its own gradient)."""
    terms = []
    if "real" in positions:
        terms.append(loss.g1(d_real).sum())
    if "fake" in positions:
        terms.append(loss.g2(d_fake).sum())
    return sum(terms)


class FGSM(PerturbationStrategy):
    """``x' = clamp(x - eps * sign(grad_x V))`` with V = g1(D(x_r)) + g2(D(x_f)), the objective D maximises.

    Args:
        eps: L-inf step (AS-GAN: 1/255 on images in [-1, 1] as the paper states).
        positions: AS-GAN attacks ``("real",)``; the ASGAN baseline of the DAT paper both.
        data_range, loss, joint_forward: as in :class:`~datgan_lightning.adversarial.DAT`.

    Example:
        >>> import torch
        >>> from datgan_lightning.adversarial import FGSM
        >>> D = torch.nn.Linear(2, 1)
        >>> real, fake = torch.zeros(4, 2), torch.zeros(4, 2)
        >>> real_adv, _ = FGSM(eps=0.1, positions=("real",), loss="ns")(D, real, fake)
        >>> bool((real_adv.abs() <= 0.1 + 1e-7).all())
        True
    """

    def __init__(
        self,
        eps: float = 1 / 255,
        positions: Sequence[str] = POSITIONS,
        data_range: tuple[float, float] | None = (-1.0, 1.0),
        loss: str | GANLoss | None = None,
        joint_forward: bool | None = None,
    ) -> None:
        super().__init__(eps, positions, data_range, loss)
        self.joint_forward = joint_forward

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        real_adv, fake_adv = real.detach(), fake.detach()
        if self.eps == 0:
            return real_adv, fake_adv
        x_real, x_fake = self._leaves(real_adv, fake_adv)
        d_real, d_fake = discriminate(discriminator, x_real, x_fake, self.joint_forward)
        objective = discriminator_objective(self._loss(), d_real, d_fake, self.positions)
        grad_real, grad_fake = self._input_grads(objective, x_real, x_fake)
        if grad_real is not None:
            real_adv = sign_step(real_adv, grad_real, -self.eps, self.data_range)
            self._record("real", real, real_adv, grad_real)
        if grad_fake is not None:
            fake_adv = sign_step(fake_adv, grad_fake, -self.eps, self.data_range)
            self._record("fake", fake, fake_adv, grad_fake)
        return real_adv, fake_adv
