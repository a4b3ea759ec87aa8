"""AS-GAN (Adversarial-Sample GAN): a second D update per step on FGSM-attacked real images.

Per D step (METHODS.md, AS-GAN): the normal update on ``(x, G(z))``; then
``x_hat = clamp(x - eps * sign(grad_x V))``, the untargeted FGSM attack on the reals only, with
``V = g1(D(x)) + g2(D(G(z)))``; then a second update on ``(x_hat, G(z))`` with the same fakes.
The input gradient comes from the first update's backward pass (the reals are leaves that require
grad), so the attack costs no extra forward. With spectral norm each of the two D forwards
advances the power iteration, as two D updates do in the paper's code.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from datgan_lightning.adversarial.diagnostics import perturbation_size
from datgan_lightning.adversarial.fgsm import sign_step
from datgan_lightning.checks import number, require
from datgan_lightning.modules.gan import GAN


class ASGAN(GAN):
    """:class:`GAN` whose every D step is two D updates: on clean reals, then on FGSM reals.

    Args:
        eps: FGSM step on real images (AS-GAN: 1/255 on images in [-1, 1], as the paper states).
        data_range: ``(low, high)`` the attacked reals are clamped to, ``None`` for unbounded data.
        kwargs: the arguments of :class:`GAN` (nets, loss, n_dis, optimizers, ...); ``perturbation``
            must stay unset, AS-GAN makes its own adversarial reals.

    Example:
        >>> from datgan_lightning.nets.sngan import SNGANDiscriminator32, SNGANGenerator32
        >>> gan = ASGAN(generator=SNGANGenerator32(ngf=8), discriminator=SNGANDiscriminator32(ndf=8), loss="hinge")
        >>> gan.eps == 1 / 255
        True
    """

    def __init__(self, eps: float = 1 / 255, data_range: tuple[float, float] | None = (-1.0, 1.0), **kwargs: Any) -> None:
        number(eps, "eps", minimum=0, fix="use eps >= 0, e.g. 1/255 (0 repeats the clean update)")
        require(kwargs.get("perturbation") is None, "perturbation", kwargs.get("perturbation"),
                "leave it unset for ASGAN, which crafts its own FGSM reals (eps sets their size)")
        require(data_range is None or data_range[0] < data_range[1], "data_range", data_range, "use (low, high) with low < high, or null")
        super().__init__(**kwargs)
        self.eps = float(eps)
        self.data_range = None if data_range is None else (float(data_range[0]), float(data_range[1]))

    def discriminator_step(self, real: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """The first update (on clean reals) happens here; returns the second's loss, on FGSM reals and the
        same fakes, for :meth:`training_step` to apply, with D's logits on the clean batches (ADA reads those)."""
        real = real.detach().requires_grad_(True)  # its .grad after the first backward drives FGSM
        with torch.no_grad():
            fake = self.generate(len(real), labels)
        labels = self.discriminator_labels(labels)
        loss, d_real, d_fake = self.objective.discriminator_loss(self.discriminator, real, fake, labels, self.discriminator_steps)
        self.optimize(self.optimizers()[0], loss)
        self.after_discriminator_update()
        # D's loss is -V, so x - eps * sign(grad V) = x + eps * sign(grad loss)
        real_adv = sign_step(real, real.grad, self.eps, self.data_range)
        if self._logs_this_step(self.discriminator_steps + 1):  # |delta| in grey levels, only on logged steps
            size = perturbation_size(real, real_adv, self.data_range, real.grad)
            self.attack_size = {f"perturbation/real/{k}": v for k, v in size.items()}
        adv_loss, _, _ = self.objective.discriminator_loss(self.discriminator, real_adv, fake, labels, self.discriminator_steps)
        return adv_loss, d_real, d_fake
