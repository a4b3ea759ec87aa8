"""SSGAN (Chen et al.): SNGAN plus a self-supervised rotation task for D and G."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from datgan_lightning.modules.sngan import SNGAN
from datgan_lightning.nets.heads import RotationHead, rotate_quarters


class SSGAN(SNGAN):
    """:class:`SNGAN` with a 4-way rotation head on D's global features (Mimicry's SSGAN).

    D's loss adds ``rotation_weight_d`` (1.0) times the rotation cross-entropy on the **clean** real
    batch, each quarter rotated by 0/90/180/270 degrees; G's loss adds ``rotation_weight_g`` (0.2)
    times the same on its fakes. The GAN loss sees upright images only. With DAT, as in the authors'
    code, only the GAN loss sees the perturbed images; the rotation loss uses the clean reals.

    Args:
        rotation_weight_d, rotation_weight_g: weights of the rotation loss for D and G.
        kwargs: the arguments of :class:`SNGAN`.

    Example:
        >>> from datgan_lightning.adversarial import DAT
        >>> gan = SSGAN(ngf=8, ndf=8, perturbation=DAT(eps=1.0))
        >>> real = gan.sample(4)
        >>> loss, d_real, d_fake = gan.discriminator_step(real)
        >>> loss.shape, d_real.shape
        (torch.Size([]), torch.Size([4]))
    """

    def __init__(self, rotation_weight_d: float = 1.0, rotation_weight_g: float = 0.2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rotation_weight_d, self.rotation_weight_g = rotation_weight_d, rotation_weight_g
        self.rotation_head = RotationHead(self.discriminator.channels[-1])

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return super().discriminator_parameters() + list(self.rotation_head.parameters())

    def rotation_loss(self, images: Tensor) -> Tensor:
        rotated, labels = rotate_quarters(images)
        return self.rotation_head.loss(self.discriminator.features(rotated), labels)

    def discriminator_step(self, real: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        gan_loss, d_real, d_fake = super().discriminator_step(real, labels)  # perturbed by DAT when enabled
        return gan_loss + self.rotation_weight_d * self.rotation_loss(real), d_real, d_fake  # clean reals

    def generator_step(self, real: Tensor, labels: Tensor | None = None) -> Tensor:
        fake = self.generate(len(real), labels)
        return self.generator_loss(fake, real, labels) + self.rotation_weight_g * self.rotation_loss(fake)
