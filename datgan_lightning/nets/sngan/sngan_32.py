"""SNGAN at 32x32 (CIFAR-10/100), Mimicry's widths: G 4.28M and D 1.05M parameters."""

from __future__ import annotations

from datgan_lightning.nets.sngan.base import ResNetDiscriminator, ResNetGenerator


class SNGANGenerator32(ResNetGenerator):
    """z=128, ``ngf`` channels from 4x4 through three up-blocks to 32x32.

    Example:
        >>> G = SNGANGenerator32(ngf=8)
        >>> G(G.sample_latent(2)).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(self, latent_dim: int = 128, ngf: int = 256, out_channels: int = 3) -> None:
        super().__init__(latent_dim, [ngf] * 4, bottom_width=4, out_channels=out_channels)


class SNGANDiscriminator32(ResNetDiscriminator):
    """``ndf`` channels: optimized block (down), then down, none, none.

    Example:
        >>> import torch
        >>> SNGANDiscriminator32(ndf=8)(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 1])
    """

    def __init__(self, ndf: int = 128, in_channels: int = 3, relu_shortcut: bool = True) -> None:
        super().__init__([ndf] * 4, [True, False, False], in_channels, relu_shortcut)
