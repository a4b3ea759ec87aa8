"""Rob-GAN (Liu & Hsieh 2019): a class-conditional GAN whose AC-GAN discriminator is co-trained on
PGD-attacked real images, then fine-tuned as a robust classifier (METHODS.md, "Rob-GAN")."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from datgan_lightning.adversarial.diagnostics import perturbation_size
from datgan_lightning.adversarial.pgd import pgd_ascent
from datgan_lightning.modules.gan import GAN
from datgan_lightning.nets.conditional import ac_discriminator, generator32, generator64
from datgan_lightning.utils import eval_mode

GENERATORS = {32: generator32, 64: generator64}
CLASS_LOSSES = ("split", "acgan")
NET_ARGS = ("num_classes", "resolution", "latent_dim", "ngf", "ndf", "channels", "spectral_norm")


def real_loss(logit: Tensor, class_logits: Tensor, labels: Tensor, reduction: str = "mean") -> Tensor:
    """``0.5 BCE(logit, 1) + 0.5 CE(class_logits, labels)``: D's loss on reals (Rob-GAN's ``loss_nll``,
    lam 0.5), G's loss on its fakes, and what the co-training attack maximises."""
    bce = F.binary_cross_entropy_with_logits(logit.reshape(-1), torch.ones_like(logit.reshape(-1)), reduction=reduction)
    return 0.5 * bce + 0.5 * F.cross_entropy(class_logits, labels, reduction=reduction)


def fake_loss(logit: Tensor, class_logits: Tensor, labels: Tensor, class_loss: str = "split") -> Tensor:
    """D's loss on fakes: ``BCE(logit, 0)`` with the split loss (no class term on fakes, lam 1), or the
    original AC-GAN's ``0.5 BCE(logit, 0) + 0.5 CE(class_logits, labels)`` with the fakes' sampled labels."""
    bce = F.binary_cross_entropy_with_logits(logit.reshape(-1), torch.zeros_like(logit.reshape(-1)))
    return bce if class_loss == "split" else 0.5 * bce + 0.5 * F.cross_entropy(class_logits, labels)


class RobGAN(GAN):
    """Rob-GAN co-training: class-conditional G (conditional BatchNorm), AC-GAN D.

    Each D step attacks the **real** batch with PGD maximising D's real loss :func:`real_loss` (D in eval
    mode, sign steps of ``attack_step_size``, projected on the L-inf ``attack_eps`` ball, clamped to
    [-1, 1], no random start; fakes are not attacked), then minimises ``real_loss(real_adv) +
    fake_loss(fake)``; G minimises :func:`real_loss` on ``G(z, y)`` with ``y`` from the uniform prior.
    Labels come from ``(x, y)`` batches (an unlabelled dataset or labels outside ``[0, num_classes)``
    stop with one sentence). D's ``forward(x)`` is its real/fake logit, so regularizers and the
    robustness callbacks apply unchanged.

    Differences from the authors' ``train.py``: G steps after each ``n_dis`` D steps (theirs before);
    their LR halving every 50 epochs is not built in (``lr_decay`` ``"none"`` or ``"linear"``).

    Args:
        num_classes: classes of the data (CIFAR-10: 10; the ImageNet subset: 143).
        resolution: 32 or 64 (the paper's nets, ``ngf = ndf = 64``).
        latent_dim, ngf, ndf, channels: G's z size, widths, image channels.
        spectral_norm: spectral norm in D (the authors' D has none).
        class_loss: ``"split"`` (the paper's) or ``"acgan"`` (the original AC-GAN loss, the ablation).
        attack_eps, attack_steps, attack_step_size: the co-training PGD (0.03125, 5, 0.0078);
            ``attack_steps=0`` trains a plain AC-GAN.
        kwargs: the other arguments of :class:`GAN` (n_dis 5, Adam 2e-4, betas (0, 0.9), ``regularizers``, ...).

    Example:
        >>> gan = RobGAN(num_classes=3, ngf=2, ndf=2)
        >>> gan.sample(2, labels=torch.tensor([0, 2])).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(
        self,
        num_classes: int = 10,
        resolution: int = 32,
        latent_dim: int = 128,
        ngf: int = 64,
        ndf: int = 64,
        channels: int = 3,
        spectral_norm: bool = False,
        class_loss: Literal["split", "acgan"] = "split",
        attack_eps: float = 0.03125,
        attack_steps: int = 5,
        attack_step_size: float = 0.0078,
        n_dis: int = 5,
        lr_decay: Literal["linear", "none"] = "none",
        **kwargs: Any,
    ) -> None:
        if resolution not in GENERATORS:
            raise ValueError(f"resolution={resolution!r} is invalid; Rob-GAN nets exist for {sorted(GENERATORS)} pixels.")
        if class_loss not in CLASS_LOSSES:
            raise ValueError(f"class_loss={class_loss!r} is invalid; use one of {CLASS_LOSSES}.")
        if kwargs.get("perturbation") is not None or kwargs.get("loss", "ns") != "ns":
            raise ValueError("RobGAN attacks reals with its own PGD and uses the BCE (ns) loss; set attack_* instead of perturbation/loss.")
        if kwargs.get("augmentations"):
            raise ValueError("augmentations are not supported by RobGAN (its losses call D's two heads directly); remove them.")
        if attack_eps < 0 or attack_steps < 0 or attack_step_size < 0:
            raise ValueError(f"attack_eps={attack_eps}, attack_steps={attack_steps}, attack_step_size={attack_step_size} must be >= 0.")
        generator = GENERATORS[resolution](num_classes, latent_dim, ngf, channels)
        discriminator = ac_discriminator(resolution, num_classes, ndf, channels, spectral_norm)
        super().__init__(generator, discriminator, n_dis=n_dis, lr_decay=lr_decay, **kwargs)
        self.class_loss = class_loss
        self.attack_eps, self.attack_steps, self.attack_step_size = attack_eps, int(attack_steps), attack_step_size

    def attack(self, real: Tensor, labels: Tensor) -> Tensor:
        """Rob-GAN's co-training attack: PGD maximising :func:`real_loss` with D in eval mode (restored)."""
        D = self.discriminator
        with eval_mode(D):
            return pgd_ascent(lambda x: real_loss(*D.forward_both(x), labels, reduction="sum"), real,
                              self.attack_eps, self.attack_steps, self.attack_step_size)

    def discriminator_step(self, real: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        fake_labels = self.generator.sample_labels(len(real), self.device)
        with torch.no_grad():
            fake = self.generate(len(real), fake_labels)
        clean, real = real, self.attack(real, labels)
        if self._logs_this_step(self.discriminator_steps + 1):  # |delta| in grey levels, only on logged steps
            self.attack_size = {f"perturbation/real/{k}": v for k, v in perturbation_size(clean, real, (-1.0, 1.0)).items()}
        (d_real, c_real), (d_fake, c_fake) = self.discriminator.forward_both(real), self.discriminator.forward_both(fake)
        d_real, d_fake = d_real.reshape(-1), d_fake.reshape(-1)
        loss = real_loss(d_real, c_real, labels) + fake_loss(d_fake, c_fake, fake_labels, self.class_loss)
        return loss + self.objective.regularization(self.discriminator, real, fake, d_real, d_fake, self.discriminator_steps), d_real, d_fake

    def generator_step(self, real: Tensor, labels: Tensor | None = None) -> Tensor:
        """G's :func:`real_loss` on ``G(z, y)`` with ``y`` from the uniform prior (not the batch's)."""
        labels = self.generator.sample_labels(len(real), self.device)
        return real_loss(*self.discriminator.forward_both(self.generate(len(real), labels)), labels)
