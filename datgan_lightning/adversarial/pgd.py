"""PGD: iterated untargeted L-inf sign steps with projection (Rob-GAN).

:func:`pgd_ascent` is the one sign-step/projection loop of the library: the :class:`PGD` strategy,
Rob-GAN's attack on D's real loss, its fine-tuning attack, Madry training and
:func:`~datgan_lightning.metrics.robustness.accuracy_under_attack` all call it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datgan_lightning.adversarial.base import PerturbationStrategy
from datgan_lightning.adversarial.fgsm import discriminator_objective, sign_step
from datgan_lightning.losses import GANLoss
from datgan_lightning.utils import discriminate, eval_mode


def pgd_ascent(
    objective: Callable[..., Tensor],
    x: Tensor | Sequence[Tensor],
    eps: float | None,
    steps: int,
    step_size: float,
    data_range: tuple[float, float] | None = (-1.0, 1.0),
    after_step: Callable[[int, Tensor, Tensor], Tensor] | None = None,
) -> Tensor | tuple[Tensor, ...]:
    """L-inf PGD without random start that *maximises* ``objective(x_adv)`` (a scalar: sum the
    per-sample terms so each sample gets its own gradient):
    ``x_{k+1} = clamp(x + proj_eps(x_k + step_size * sign(grad) - x), data_range)``.

    ``x`` is a tensor, or a sequence of tensors attacked together (``objective`` then takes as many
    arguments and returns one value). ``eps=None`` does not project (an unbounded walk). ``after_step``
    (single tensor only), called as ``after_step(k, x_k_minus_1, x_k)`` after step ``k`` (1-based),
    returns the point the next step starts from (the robustness metrics freeze samples whose decision
    flipped). Returns detached tensors of the inputs' shapes; ``x`` itself when ``eps`` or ``step_size``
    is 0. Plain function: the caller sets the model's mode (Rob-GAN attacks D in eval mode) and owns
    the parameters' gradients (none are accumulated).

    Example:
        >>> x = torch.zeros(2, 3)
        >>> pgd_ascent(lambda v: (v * torch.tensor([1.0, -1.0, 0.0])).sum(), x, eps=0.1, steps=3, step_size=0.04)[0]
        tensor([ 0.1000, -0.1000,  0.0000])
    """
    single = isinstance(x, Tensor)
    clean = tuple(t.detach() for t in ((x,) if single else x))
    adv = clean
    if eps != 0 and step_size != 0:
        for step in range(1, int(steps) + 1):
            leaves = tuple(t.detach().requires_grad_(True) for t in adv)
            with torch.enable_grad():
                grads = torch.autograd.grad(objective(*leaves), leaves)
            new = tuple(_project(sign_step(a, g, step_size), c, eps, data_range) for a, g, c in zip(adv, grads, clean))
            adv = new if after_step is None else (after_step(step, adv[0], new[0]),)
    return adv[0] if single else adv


def _project(x: Tensor, clean: Tensor, eps: float | None, data_range: tuple[float, float] | None) -> Tensor:
    x = x if eps is None else clean + (x - clean).clamp(-eps, eps)
    return x if data_range is None else x.clamp(*data_range)


def label_attack(classify: Any, x: Tensor, labels: Tensor, eps: float, steps: int, step_size: float,
                 data_range: tuple[float, float] | None = (-1.0, 1.0)) -> Tensor:
    """Untargeted L-inf PGD on the class loss ``CE(classify(x), labels)`` (Rob-GAN's ``attack_label_Linf_PGD``:
    fine-tuning and accuracy under attack). The caller sets the model's mode."""
    return pgd_ascent(lambda v: F.cross_entropy(classify(v), labels, reduction="sum"), x, eps, steps, step_size, data_range)


class PGD(PerturbationStrategy):
    """``x_{k+1} = clamp(proj_eps(x_k - step_size * sign(grad V(x_k))), data_range)``, no random start.

    The defaults are Rob-GAN's co-training attack (METHODS.md): reals only, 5 steps of 0.0078 in an
    L-inf ball of 0.03125, D in eval mode during the attack, clamped to [-1, 1]; ``PGD()`` is that
    attack, with nothing to remember.

    Args:
        eps: radius of the L-inf ball around the clean sample (Rob-GAN: 0.03125 at 64px).
        steps: number of sign steps (Rob-GAN: 5).
        step_size: size of each sign step (Rob-GAN: 0.0078).
        positions: which batches to attack (Rob-GAN: ``("real",)``, the default).
        eval_mode: put D in eval mode during the attack (Rob-GAN does: the default), restoring its mode
            after; ``False`` attacks the training-mode D (BatchNorm batch statistics, spectral-norm updates).
        data_range, loss, joint_forward: as in :class:`~datgan_lightning.adversarial.DAT`.

    Example:
        >>> import torch
        >>> from datgan_lightning.adversarial import PGD
        >>> D = torch.nn.Linear(2, 1)
        >>> real = torch.zeros(4, 2)
        >>> real_adv, _ = PGD(eps=0.05, steps=3, step_size=0.02, loss="ns")(D, real, real.clone())
        >>> bool((real_adv.abs() <= 0.05 + 1e-7).all())
        True
    """

    def __init__(
        self,
        eps: float = 0.03125,
        steps: int = 5,
        step_size: float = 0.0078,
        positions: Sequence[str] = ("real",),
        data_range: tuple[float, float] | None = (-1.0, 1.0),
        loss: str | GANLoss | None = None,
        eval_mode: bool = True,
        joint_forward: bool | None = None,
    ) -> None:
        super().__init__(eps, positions, data_range, loss)
        if int(steps) != steps or steps < 1:
            raise ValueError(f"PGD: steps={steps} is invalid; use an integer >= 1.")
        if step_size < 0:
            raise ValueError(f"PGD: step_size={step_size} is negative; use step_size >= 0.")
        self.steps = int(steps)
        self.step_size = float(step_size)
        self.eval_mode = eval_mode
        self.joint_forward = joint_forward

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        real, fake = real.detach(), fake.detach()
        if self.eps == 0 or self.step_size == 0:
            return real, fake
        selected = [name for name in ("real", "fake") if name in self.positions]

        def objective(*attacked: Tensor) -> Tensor:  # minus D's objective: the attacker descends V
            inputs = {"real": real, "fake": fake, **dict(zip(selected, attacked))}
            d_real, d_fake = discriminate(discriminator, inputs["real"], inputs["fake"], self.joint_forward)
            return -discriminator_objective(self._loss(), d_real, d_fake, self.positions)

        with eval_mode(*[discriminator] if self.eval_mode else []):
            attacked = pgd_ascent(objective, [real if n == "real" else fake for n in selected], self.eps, self.steps,
                                  self.step_size, self.data_range)
        out = {"real": real, "fake": fake, **dict(zip(selected, attacked))}
        for name in selected:  # pgd_ascent keeps its gradients to itself: sizes only, no grad_norm
            self._record(name, real if name == "real" else fake, out[name])
        return out["real"], out["fake"]
