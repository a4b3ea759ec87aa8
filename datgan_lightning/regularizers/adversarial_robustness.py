"""AR and RFM: the adversarial-robustness regularizers of Zhou & Krähenbühl, "Don't let your
discriminator be fooled" (ICLR 2019; the AR/RFM columns of the DAT paper's Table III).

For each selected batch (``positions``, reals and fakes by default), per sample:

    g_i = ∇_x ℓ(x_i),  ℓ = −g1(D(x)) for reals, −g2(D(x)) for fakes   (D's loss for that sample)
    ĝ_i = g_i / ‖g_i‖₂                                                  (0 where g_i = 0)
    x'_i = x_i + ε ĝ_i                                                  (detached: it raises D's loss)

then the change ``Δ_i = f(x'_i) − f(x_i)`` is penalised, with ``f = D`` (logit; :class:`AR`) or
``f = φ``, D's penultimate features, the vector its last linear layer sees (:class:`RFM`; D needs
a ``features(x)`` method). Both ``f(x)`` and ``f(x')`` keep their graph, so the term trains D
to change little in the direction that hurts it most. Two reductions, summed over the positions:

* ``reduction="norm"`` (default, the authors' code ``bradyz/robust-discriminator-pytorch``):
  ``weight · ‖Δ‖₂``, the L2 norm of the whole batch's change (not squared, not averaged:
  it grows like √N with the batch size);
* ``reduction="mean_squared"``: ``weight · mean_i ‖Δ_i‖²``. To first order AR is then
  ``weight · ε² · mean ‖∇_x D(x_i)‖²``, a 0-GP of weight ``weight · ε²`` (where D's loss has a
  non-zero slope), so it needs a much larger ε or weight than the defaults to do anything.

Defaults ``eps = 1e-4`` and ``weight = 10`` are the authors' code's (``--eps 1e-4``, ``--reg 1e1``).
Their code differs in two details kept out of here: their D ends in a sigmoid, so AR there would
compare probabilities (here: logits), and their features are taken before D's last BatchNorm and
activation (here: whatever ``features`` returns). No clamp to a data range is applied to ``x'``.

Cost per position: AR two D forwards (the clean one keeps its graph) and one input backward;
RFM one D forward and one input backward for ``ĝ``, then two ``features`` forwards. D runs in its
current mode: with training-mode BatchNorm each forward uses its own batch's statistics (and the
input gradient includes the coupling through them, as in the authors' code); spectral norm advances
its power iteration on each forward. Hinge loss: a sample beyond the margin has ``g_i = 0``, so
``x'_i = x_i`` and it adds nothing.

Example:
    >>> import torch
    >>> from datgan_lightning.regularizers import AR
    >>> D = torch.nn.Linear(2, 1)
    >>> real, fake = torch.randn(8, 2), torch.randn(8, 2)
    >>> term = AR(eps=0.1, loss="ns")(D, real, fake, None, None)
    >>> term.shape, term.requires_grad
    (torch.Size([]), True)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from datgan_lightning.adversarial.base import POSITIONS
from datgan_lightning.checks import number, one_of, require
from datgan_lightning.losses import GANLoss
from datgan_lightning.regularizers.base import AugmentedCritic, Regularizer
from datgan_lightning.utils import full_precision, logits

REDUCTIONS = ("norm", "mean_squared")


class RobustnessRegularizer(Regularizer):
    """Shared part of :class:`AR` and :class:`RFM`: the normalised-gradient step and the reduction.

    Args:
        weight: λ (>= 0), the factor in front of the reduced change.
        every: lazy regularization period (>= 1).
        eps: L2 length of each sample's step (>= 0; 0 makes the term 0).
        positions: which batches, a non-empty subset of ``("real", "fake")``; their terms are summed.
        reduction: ``"norm"`` (authors' code: ``‖Δ‖₂`` over the batch) or ``"mean_squared"``
            (``mean_i ‖Δ_i‖²``).
        loss: the GAN loss whose ``g1``/``g2`` define D's per-sample loss; ``None`` lets the GAN
            module fill in its own.
    """

    def __init__(
        self,
        weight: float = 10.0,
        every: int = 1,
        eps: float = 1e-4,
        positions: Sequence[str] = POSITIONS,
        reduction: str = "norm",
        loss: str | GANLoss | None = None,
    ) -> None:
        super().__init__(weight, every, loss)
        name = type(self).__name__
        self.eps = float(number(eps, f"{name}: eps", minimum=0))
        if isinstance(positions, str):
            positions = (positions,)
        require(bool(positions) and all(p in POSITIONS for p in positions), f"{name}: positions", tuple(positions), f"use a non-empty subset of {POSITIONS}")
        self.positions = tuple(p for p in POSITIONS if p in positions)
        self.reduction = one_of(reduction, f"{name}: reduction", REDUCTIONS)

    @property
    def requires_loss(self) -> bool:
        return True

    def forward(
        self, discriminator: nn.Module, real: Tensor, fake: Tensor, d_real: Tensor | None = None, d_fake: Tensor | None = None
    ) -> Tensor:
        if isinstance(discriminator, AugmentedCritic):
            # D∘T draws a fresh T per call: draw it once per batch and compare through the plain D, so
            # the change measured is the eps-step's, not the difference of two random augmentations
            real, fake = discriminator.augment(real), discriminator.augment(fake)
            discriminator = discriminator.discriminator
        batches = {"real": full_precision(real), "fake": full_precision(fake)}
        # in full precision, outside autocast: a step of eps = 1e-4 is below bf16's resolution of the
        # pixels (and of D's inputs under autocast), so D(x') - D(x) would be 0 and the term would vanish
        with torch.autocast(real.device.type, enabled=False):
            terms = [self._reduce(self.change(discriminator, batches[p], p)) for p in self.positions]
        return self.weight * sum(terms)

    def change(self, discriminator: nn.Module, x: Tensor, position: str) -> Tensor:
        """``Δ = f(x') − f(x)``, one row per sample."""
        raise NotImplementedError

    def attack(self, discriminator: nn.Module, x: Tensor, position: str, keep_graph: bool) -> tuple[Tensor, Tensor]:
        """``(D(x), x')``: D's logits on ``x`` (with their graph if ``keep_graph``) and the detached ``x + ε ĝ``."""
        loss = self._loss()
        x = x.detach().requires_grad_(True)
        out = logits(discriminator, x)
        per_sample_loss = -(loss.g1(out) if position == "real" else loss.g2(out))
        (grad,) = torch.autograd.grad(per_sample_loss.sum(), x, retain_graph=keep_graph)
        norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view((-1,) + (1,) * (x.dim() - 1))
        return out, (x + self.eps * grad / norm).detach()

    def _reduce(self, change: Tensor) -> Tensor:
        if self.reduction == "norm":
            return change.norm()
        return change.pow(2).sum(1).mean()


class AR(RobustnessRegularizer):
    """Adversarial robustness of D's output: ``Δ_i = D(x'_i) − D(x_i)`` (logits); see the module docstring."""

    def change(self, discriminator: nn.Module, x: Tensor, position: str) -> Tensor:
        out, x_adv = self.attack(discriminator, x, position, keep_graph=True)
        return (logits(discriminator, x_adv) - out).unsqueeze(1)


class RFM(RobustnessRegularizer):
    """Robust feature matching: ``Δ_i = φ(x'_i) − φ(x_i)``, φ = ``discriminator.features``; see the module docstring."""

    def change(self, discriminator: nn.Module, x: Tensor, position: str) -> Tensor:
        features = getattr(discriminator, "features", None)
        if not callable(features):
            raise ValueError(
                f"{type(self).__name__} needs D's penultimate features, but {type(discriminator).__name__} has no features(x) method; "
                "add one returning the vector D's last linear layer sees (as the SNGAN, DCGAN and MLP discriminators do), "
                "or use AR."
            )
        _, x_adv = self.attack(discriminator, x, position, keep_graph=False)
        return (features(x_adv) - features(x.detach())).flatten(1)
