"""SNGAN at 48x48 (STL-10), Mimicry's widths."""

from __future__ import annotations

from datgan_lightning.nets.sngan.base import ResNetDiscriminator, ResNetGenerator


class SNGANGenerator48(ResNetGenerator):
    """z=128, ``ngf`` channels at 6x6, halved by each of three up-blocks (512-256-128-64).

    Example:
        >>> G = SNGANGenerator48(ngf=16)
        >>> G(G.sample_latent(2)).shape
        torch.Size([2, 3, 48, 48])
    """

    def __init__(self, latent_dim: int = 128, ngf: int = 512, out_channels: int = 3) -> None:
        super().__init__(latent_dim, [ngf, ngf // 2, ngf // 4, ngf // 8], bottom_width=6, out_channels=out_channels)


class SNGANDiscriminator48(ResNetDiscriminator):
    """Channels ndf/16, /8, /4, /2, ndf (64-128-256-512-1024); the last block does not downsample.

    Example:
        >>> import torch
        >>> SNGANDiscriminator48(ndf=32)(torch.zeros(2, 3, 48, 48)).shape
        torch.Size([2, 1])
    """

    def __init__(self, ndf: int = 1024, in_channels: int = 3, relu_shortcut: bool = True) -> None:
        channels = [ndf // 16, ndf // 8, ndf // 4, ndf // 2, ndf]
        super().__init__(channels, [True, True, True, False], in_channels, relu_shortcut)
