"""PGD: iterated untargeted L-inf sign steps with projection (Rob-GAN)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from datgan_lightning.adversarial.base import PerturbationStrategy
from datgan_lightning.adversarial.fgsm import discriminator_objective
from datgan_lightning.losses import GANLoss
from datgan_lightning.utils import discriminate


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
        real_adv, fake_adv = real, fake
        if self.eps == 0 or self.step_size == 0:
            return real_adv, fake_adv
        was_training = discriminator.training
        if self.eval_mode:
            discriminator.eval()
        try:
            for _ in range(self.steps):
                x_real, x_fake = self._leaves(real_adv, fake_adv)
                d_real, d_fake = discriminate(discriminator, x_real, x_fake, self.joint_forward)
                objective = discriminator_objective(self._loss(), d_real, d_fake, self.positions)
                grad_real, grad_fake = self._input_grads(objective, x_real, x_fake)
                if grad_real is not None:
                    real_adv = self._project(real_adv - self.step_size * grad_real.sign(), real)
                if grad_fake is not None:
                    fake_adv = self._project(fake_adv - self.step_size * grad_fake.sign(), fake)
        finally:
            discriminator.train(was_training)
        return real_adv, fake_adv

    def _project(self, x: Tensor, clean: Tensor) -> Tensor:
        return self._clamp(clean + (x - clean).clamp(-self.eps, self.eps))
