"""Controls that separate DAT's perturbation from its side effect on spectral norm (issue 27).

With ``torch.nn.utils.parametrizations.spectral_norm``, every training-mode forward of D advances the
power iteration that estimates each layer's top singular value. DAT's attack runs D once more per D
step than the plain GAN does, so a spectral-norm D trained with DAT also gets twice the power
iterations. Two strategies tell the two effects apart:

:class:`MatchedForwards`
    the plain GAN plus DAT's extra training-mode D forwards, no step (``eps = 0``): the same power
    iterations (and BatchNorm running-statistic updates) as DAT, the images unchanged.
:class:`DATNoPowerIteration`
    DAT whose attack forwards run with the power iteration frozen
    (:func:`~datgan_lightning.adversarial.diagnostics.frozen_power_iteration`: the spectral-norm
    parametrizations alone in eval mode, using their current ``u``): the perturbation without the
    extra power iterations.

Example:
    >>> import torch
    >>> from datgan_lightning.adversarial.control import MatchedForwards
    >>> D = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(64, 64))
    >>> u = D.parametrizations.weight[0]._u.clone()
    >>> real, fake = torch.randn(4, 64), torch.randn(4, 64)
    >>> real_out, _ = MatchedForwards()(D, real, fake)
    >>> torch.equal(real_out, real), torch.equal(D.parametrizations.weight[0]._u, u)
    (True, False)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from datgan_lightning.adversarial.base import PerturbationStrategy
from datgan_lightning.adversarial.dat import DAT
from datgan_lightning.adversarial.diagnostics import frozen_power_iteration
from datgan_lightning.checks import number
from datgan_lightning.utils import discriminate


class MatchedForwards(PerturbationStrategy):
    """DAT's D forwards without DAT's step: returns ``(real, fake)`` unchanged after running D
    ``forwards`` times on them in its current mode (no gradients).

    Args:
        forwards: D forwards per call; DAT with ``steps=k`` makes ``k`` (one on real and fake together,
            two separate ones when D has BatchNorm, decided as DAT decides with ``joint_forward``).
        joint_forward: as in :class:`~datgan_lightning.adversarial.DAT`.
    """

    def __init__(self, forwards: int = 1, joint_forward: bool | None = None) -> None:
        super().__init__(0.0, data_range=None)
        self.forwards = int(number(forwards, "MatchedForwards: forwards", integer=True, minimum=1))
        self.joint_forward = joint_forward

    @property
    def requires_loss(self) -> bool:
        return False

    @torch.no_grad()
    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        real, fake = real.detach(), fake.detach()
        for _ in range(self.forwards):
            discriminate(discriminator, real, fake, self.joint_forward)
        return real, fake


class DATNoPowerIteration(DAT):
    """:class:`~datgan_lightning.adversarial.DAT` (same arguments) whose attack forwards use spectral norm's
    current ``u`` without advancing it; the rest of D (BatchNorm) keeps its mode."""

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        with frozen_power_iteration(discriminator):
            return super().__call__(discriminator, real, fake)
