"""SNGAN (Miyato et al.) with Mimicry's ResNets at 32, 48 or 64 pixels; DAT plugs in via ``perturbation``."""

from __future__ import annotations

from typing import Any

from datgan_lightning.modules.gan import GAN
from datgan_lightning.nets import sngan

NETS = {
    32: (sngan.SNGANGenerator32, sngan.SNGANDiscriminator32),
    48: (sngan.SNGANGenerator48, sngan.SNGANDiscriminator48),
    64: (sngan.SNGANGenerator64, sngan.SNGANDiscriminator64),
}


class SNGAN(GAN):
    """:class:`GAN` with the SNGAN ResNet for ``resolution`` and the DAT paper's Table I defaults
    (hinge loss, Adam 2e-4, β = (0, 0.9), n_dis 5, 100k generator iterations, linear decay).

    Args:
        resolution: 32 (CIFAR), 48 (STL-10) or 64 (Tiny-ImageNet, LSUN-Bedroom).
        ngf, ndf: generator / discriminator width; ``None`` takes Mimicry's for the resolution.
        relu_shortcut: Mimicry's in-place ReLU quirk of its D blocks (see ``nets/sngan/resblocks.py``).
        channels: image channels (3; 1 for grayscale data).
        kwargs: the other arguments of :class:`GAN` (its defaults otherwise match Table I).

    Example:
        >>> from datgan_lightning.adversarial import DAT
        >>> gan = SNGAN(resolution=32, ngf=8, ndf=8, perturbation=DAT(eps=1.0))
        >>> gan.sample(2).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(
        self,
        resolution: int = 32,
        latent_dim: int = 128,
        ngf: int | None = None,
        ndf: int | None = None,
        relu_shortcut: bool = True,
        channels: int = 3,
        loss: str = "hinge",
        n_dis: int = 5,
        **kwargs: Any,
    ) -> None:
        if resolution not in NETS:
            raise ValueError(f"resolution={resolution!r} is invalid; SNGAN nets exist for {sorted(NETS)} pixels.")
        make_g, make_d = NETS[resolution]
        g_kwargs = {} if ngf is None else {"ngf": ngf}
        d_kwargs = {} if ndf is None else {"ndf": ndf}
        generator = make_g(latent_dim, **g_kwargs, out_channels=channels)
        discriminator = make_d(**d_kwargs, in_channels=channels, relu_shortcut=relu_shortcut)
        super().__init__(generator, discriminator, loss=loss, n_dis=n_dis, **kwargs)
        self.resolution = resolution
