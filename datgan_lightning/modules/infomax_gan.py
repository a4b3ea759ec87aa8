"""InfoMaxGAN (Lee et al.): SNGAN plus InfoNCE between D's local and global features."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from datgan_lightning.modules.sngan import SNGAN
from datgan_lightning.nets.heads import InfoMaxHead
from datgan_lightning.nets.sngan.base import pooled_features


class InfoMaxGAN(SNGAN):
    """:class:`SNGAN` with InfoMaxGAN's contrastive head (Mimicry's InfoMaxGAN).

    Local features are the output of D's block ``local_block`` after a ReLU; Mimicry takes the
    *penultimate* block (3 of 4 at 32 px: ``ndf`` x 8x8; 4 of 5 at 48/64 px: ``ndf/2`` x 3x3 / 4x4), made
    non-negative by the next block's in-place ReLU. Global features are the pooled vector D's output
    layer sees; both are projected to an RKHS
    of ``rkhs_dim`` (1024) dims and scored with InfoNCE. D's loss adds ``infomax_weight_d`` (0.2)
    times the InfoNCE loss on the **clean** real batch, G's adds ``infomax_weight_g`` (0.2) times it on
    its fakes. With DAT, as in the authors' code, only the GAN loss sees the perturbed images.

    The InfoNCE terms use their own D forward (on clean reals in the D step, on the fakes in the G
    step): one more D forward per step than Mimicry's baseline, which shares the GAN-loss forward.

    Args:
        infomax_weight_d, infomax_weight_g: weights of the InfoNCE loss for D and G.
        rkhs_dim: size of the projection space.
        local_block: which of D's blocks (1 = the first) gives the local features; ``None`` (default)
            is the penultimate block, as in Mimicry.
        kwargs: the arguments of :class:`SNGAN`.

    Example:
        >>> gan = InfoMaxGAN(ngf=8, ndf=8, rkhs_dim=16)
        >>> gan.infomax_loss(gan.sample(4)).shape
        torch.Size([])
    """

    def __init__(
        self,
        infomax_weight_d: float = 0.2,
        infomax_weight_g: float = 0.2,
        rkhs_dim: int = 1024,
        local_block: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        blocks = len(self.discriminator.channels)
        local_block = blocks - 1 if local_block is None else local_block
        if not 1 <= local_block < blocks:
            raise ValueError(f"local_block={local_block!r} is invalid; D has {blocks} blocks, use 1 to {blocks - 1}.")
        self.infomax_weight_d, self.infomax_weight_g, self.local_block = infomax_weight_d, infomax_weight_g, local_block
        self.infomax_head = InfoMaxHead(self.discriminator.channels[local_block - 1], self.discriminator.channels[-1], rkhs_dim)

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return super().discriminator_parameters() + list(self.infomax_head.parameters())

    def infomax_loss(self, images: Tensor) -> Tensor:
        outputs = self.discriminator.block_outputs(images)
        local = F.relu(outputs[self.local_block - 1])  # Mimicry: the next block's in-place ReLU
        return self.infomax_head.loss(local, pooled_features(outputs[-1]))

    def discriminator_step(self, real: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        gan_loss, d_real, d_fake = super().discriminator_step(real, labels)  # perturbed by DAT when enabled
        return gan_loss + self.infomax_weight_d * self.infomax_loss(real), d_real, d_fake  # clean reals

    def generator_step(self, real: Tensor, labels: Tensor | None = None) -> Tensor:
        fake = self.generate(len(real), labels)
        return self.generator_loss(fake, real, labels) + self.infomax_weight_g * self.infomax_loss(fake)
