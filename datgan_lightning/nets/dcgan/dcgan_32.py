"""DCGAN at 32x32: generator and discriminator of 4 conv layers with BatchNorm (DAT paper, Fig. 4 footnote).

The layers are Radford et al.'s with one stride-2 stage less than their 64x64 net: 4x4 kernels,
transposed convs with BN-ReLU in G and a tanh output, strided convs with BN-LeakyReLU(0.2) in D
(no BN on D's first layer), weights ~ N(0, 0.02) and BN scales ~ N(1, 0.02). 28x28 MNIST is padded
to 32x32 by :class:`~datgan_lightning.data.MNIST` (``image_size=32``), so the same nets serve it.
"""

from __future__ import annotations

from torch import Tensor, nn

from datgan_lightning.nets.base import Discriminator, Generator


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.'s init: conv weights ~ N(0, 0.02), BN weight ~ N(1, 0.02) and bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator32(Generator):
    """``z -> 4x4 (4 ngf) -> 8x8 (2 ngf) -> 16x16 (ngf) -> 32x32 image``, four transposed convs.

    Example:
        >>> G = DCGANGenerator32(ngf=8, channels=1)
        >>> G(G.sample_latent(2)).shape
        torch.Size([2, 1, 32, 32])
    """

    def __init__(self, latent_dim: int = 100, ngf: int = 64, channels: int = 3) -> None:
        super().__init__(latent_dim)
        self.output_shape = (channels, 32, 32)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, channels, 4, 2, 1),
            nn.Tanh(),
        )
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(len(z), -1, 1, 1))


class DCGANDiscriminator32(Discriminator):
    """``32x32 image -> 16x16 (ndf) -> 8x8 (2 ndf) -> 4x4 (4 ndf) -> logit``, four strided convs.

    Example:
        >>> import torch
        >>> DCGANDiscriminator32(ndf=8, channels=1)(torch.zeros(2, 1, 32, 32)).shape
        torch.Size([2, 1])
    """

    def __init__(self, ndf: int = 64, channels: int = 3) -> None:
        super().__init__()
        self.input_shape = (channels, 32, 32)
        self.net = nn.Sequential(
            nn.Conv2d(channels, ndf, 4, 2, 1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 4, 1, 4, 1, 0),
        )
        dcgan_init(self)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return self.net(x).view(len(x), 1)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features ``(N, 4 ndf * 16)``: the 4x4 maps after the third conv's BN and LeakyReLU,
        flattened (the last 4x4 conv is a linear layer on exactly this vector)."""
        self._check_input(x)
        return self.net[:-1](x).flatten(1)

    def _check_input(self, x: Tensor) -> None:
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"{type(self).__name__} got input of shape {tuple(x.shape)}; it needs (N, {', '.join(map(str, self.input_shape))}) "
                "images (pad or resize 28x28 MNIST to 32x32, e.g. MNIST(image_size=32))."
            )
