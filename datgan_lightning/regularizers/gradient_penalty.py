"""Gradient penalties on D's input gradient: GP, LP, 0-GP, R1, R2.

``GradientPenalty(weight=λ, at=..., center=c, one_sided=...)`` returns

    λ · mean_i (‖∇_x D(x_i)‖ − c)²            (two-sided)
    λ · mean_i max(0, ‖∇_x D(x_i)‖ − c)²      (``one_sided=True``)

with the L2 norm per sample over all non-batch dimensions and the mean over the batch, at
``x_i`` = the real samples (``at="real"``), the fakes (``"fake"``) or random interpolates
``x̂_i = α_i x_r,i + (1 − α_i) x_f,i``, ``α_i ~ U(0, 1)`` per sample (``"interpolates"``). The
named forms, each a thin subclass with the paper's defaults:

* :class:`GP` (WGAN-GP, Gulrajani et al. 2017): ``λ mean (‖∇D(x̂)‖ − 1)²``, λ = 10, on interpolates.
* :class:`LP` (WGAN-LP, Petzka et al. 2018): ``λ mean max(0, ‖∇D(x̂)‖ − 1)²``, λ = 10 (GP's value).
* :class:`ZeroGP` (0-GP): ``λ mean ‖∇D(x)‖²``, λ = 10 (GP's value), on interpolates by default
  (Thanh-Tung et al. 2019); ``at="real"`` is R1 and ``at="fake"`` R2.
* :class:`R1` / :class:`R2` (Mescheder et al. 2018): ``(γ/2) mean ‖∇D(x)‖²`` on reals / fakes.
  ``weight`` is the factor in front of the mean, i.e. γ/2: the default 5 is γ = 10.

How it is computed: one extra D forward on a detached copy of the points that requires grad,
then ``torch.autograd.grad(sum_i D(x_i), x, create_graph=True)``, so the penalty's own gradient
reaches D's parameters (a double backward). The forward runs D in its current mode:

* BatchNorm in training mode normalises the penalty's batch (the interpolates, or the reals, or
  the fakes) with *that batch's own* statistics, and its running statistics take one more
  momentum update from it; the input gradient of ``sum_i D(x_i)`` then includes the coupling
  through the batch statistics, as the usual implementations compute it.
* spectral norm (``torch.nn.utils.parametrizations.spectral_norm``) advances its power iteration
  once more on this training-mode forward, as every D forward does (DAT's included).

The points are the batches the GAN loss saw, so with DAT the penalty is taken at the perturbed
samples. ``every > 1`` (lazy regularization) is allowed: the GAN module applies the term every
``every`` D steps and multiplies it by ``every``.

Example:
    >>> import torch
    >>> from datgan_lightning.regularizers import R1
    >>> D = torch.nn.Linear(3, 1, bias=False)
    >>> _ = torch.nn.init.constant_(D.weight, 2.0)
    >>> x = torch.randn(4, 3)
    >>> R1(weight=0.5)(D, x, x, None, None)  # 0.5 * ||w||^2 = 0.5 * 12
    tensor(6., grad_fn=<MulBackward0>)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from datgan_lightning.checks import number, one_of
from datgan_lightning.regularizers.base import Regularizer
from datgan_lightning.utils import logits

AT = ("real", "fake", "interpolates")


class GradientPenalty(Regularizer):
    """``weight · mean_i (‖∇_x D(x_i)‖ − center)²`` (one-sided: only the excess above ``center``).

    Args:
        weight: λ, the factor in front of the batch mean (>= 0).
        every: lazy regularization period (>= 1), see :class:`~datgan_lightning.regularizers.Regularizer`.
        at: where the gradient is taken: ``"real"``, ``"fake"`` or ``"interpolates"``.
        center: the target norm ``c`` (1 for GP/LP, 0 for 0-GP/R1/R2; >= 0).
        one_sided: penalise only norms above ``center`` (LP).
    """

    def __init__(
        self, weight: float = 10.0, every: int = 1, at: str = "interpolates", center: float = 1.0, one_sided: bool = False
    ) -> None:
        super().__init__(weight, every)
        name = type(self).__name__
        self.at = one_of(at, f"{name}: at", AT)
        self.center = float(number(center, f"{name}: center", minimum=0, fix="use a finite number >= 0 (1 for GP and LP, 0 for 0-GP)"))
        self.one_sided = bool(one_sided)

    def forward(
        self, discriminator: nn.Module, real: Tensor, fake: Tensor, d_real: Tensor | None = None, d_fake: Tensor | None = None
    ) -> Tensor:
        x = self.points(real, fake).detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(logits(discriminator, x).sum(), x, create_graph=True)
        grad = grad.flatten(1)
        if self.center == 0:  # ||g||^2 without the square root: exact gradient at g = 0
            per_sample = grad.pow(2).sum(1)
        else:
            gap = grad.norm(dim=1) - self.center
            per_sample = (gap.clamp_min(0) if self.one_sided else gap).pow(2)
        return self.weight * per_sample.mean()

    def points(self, real: Tensor, fake: Tensor) -> Tensor:
        """The samples the gradient is taken at (interpolates: a fresh ``α ~ U(0, 1)`` per sample)."""
        if self.at == "real":
            return real.detach()
        if self.at == "fake":
            return fake.detach()
        if real.shape != fake.shape:
            raise ValueError(
                f"{type(self).__name__}: at='interpolates' needs real and fake batches of the same shape; "
                f"got {tuple(real.shape)} and {tuple(fake.shape)}."
            )
        alpha = torch.rand((len(real),) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
        return alpha * real.detach() + (1 - alpha) * fake.detach()


class GP(GradientPenalty):
    """WGAN-GP: ``weight · mean (‖∇D(x̂)‖ − 1)²``, λ = 10 on random interpolates (Gulrajani et al. 2017)."""

    def __init__(self, weight: float = 10.0, every: int = 1, at: str = "interpolates") -> None:
        super().__init__(weight, every, at, center=1.0, one_sided=False)


class LP(GradientPenalty):
    """WGAN-LP: ``weight · mean max(0, ‖∇D(x̂)‖ − 1)²`` on random interpolates (Petzka et al. 2018)."""

    def __init__(self, weight: float = 10.0, every: int = 1, at: str = "interpolates") -> None:
        super().__init__(weight, every, at, center=1.0, one_sided=True)


class ZeroGP(GradientPenalty):
    """0-GP: ``weight · mean ‖∇D(x)‖²`` at ``at`` (interpolates by default; ``"real"`` = R1, ``"fake"`` = R2)."""

    def __init__(self, weight: float = 10.0, every: int = 1, at: str = "interpolates") -> None:
        super().__init__(weight, every, at, center=0.0, one_sided=False)


class R1(GradientPenalty):
    """R1: ``weight · mean ‖∇D(x_r)‖²`` on reals; ``weight`` = γ/2 of Mescheder et al., default 5 (γ = 10)."""

    def __init__(self, weight: float = 5.0, every: int = 1) -> None:
        super().__init__(weight, every, "real", center=0.0, one_sided=False)


class R2(GradientPenalty):
    """R2: ``weight · mean ‖∇D(x_f)‖²`` on fakes; ``weight`` = γ/2 of Mescheder et al., default 5 (γ = 10)."""

    def __init__(self, weight: float = 5.0, every: int = 1) -> None:
        super().__init__(weight, every, "fake", center=0.0, one_sided=False)
