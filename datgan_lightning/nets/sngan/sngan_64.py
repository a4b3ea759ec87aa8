"""SNGAN at 64x64 (Tiny-ImageNet, LSUN-Bedroom), Mimicry's widths."""

from __future__ import annotations

from datgan_lightning.nets.sngan.base import ResNetDiscriminator, ResNetGenerator


class SNGANGenerator64(ResNetGenerator):
    """z=128, ``ngf`` channels at 4x4, halved by each of four up-blocks (1024-512-256-128-64).

    Example:
        >>> G = SNGANGenerator64(ngf=32)
        >>> G(G.sample_latent(2)).shape
        torch.Size([2, 3, 64, 64])
    """

    def __init__(self, latent_dim: int = 128, ngf: int = 1024, out_channels: int = 3) -> None:
        channels = [ngf, ngf // 2, ngf // 4, ngf // 8, ngf // 16]
        super().__init__(latent_dim, channels, bottom_width=4, out_channels=out_channels)


class SNGANDiscriminator64(ResNetDiscriminator):
    """Channels ndf/16, /8, /4, /2, ndf; all five blocks downsample.

    Example:
        >>> import torch
        >>> SNGANDiscriminator64(ndf=32)(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2, 1])
    """

    def __init__(self, ndf: int = 1024, in_channels: int = 3, relu_shortcut: bool = True) -> None:
        channels = [ndf // 16, ndf // 8, ndf // 4, ndf // 2, ndf]
        super().__init__(channels, [True, True, True, True], in_channels, relu_shortcut)
