"""Class-conditional ResNets of Rob-GAN (SN-GAN's nets): a generator with conditional BatchNorm, an
AC-GAN discriminator (real/fake logit and class logits on shared features) and a projection
discriminator (Miyato & Koyama).

Every strategy and regularizer of the library calls ``D(x)`` with images only. The AC-GAN
discriminator's ``forward(x)`` is its real/fake logit, so they all work on it unchanged;
:meth:`ACResNetDiscriminator.forward_both` gives the class logits too. The projection
discriminator's logit depends on the label, so it is ``D(x, labels)``; called as ``D(x)`` (as the
strategies and regularizers do) it refuses with one sentence: the library does not yet pass labels
to them (use the AC-GAN discriminator for DAT/PGD/regularizers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from datgan_lightning.nets.base import Discriminator, Generator, check_labels
from datgan_lightning.nets.conditional.batchnorm import ConditionalBatchNorm2d
from datgan_lightning.nets.layers import sn, xavier
from datgan_lightning.nets.sngan.base import ResNetDiscriminator


def upsample_nearest(x: Tensor) -> Tensor:
    """2x nearest-neighbour upsampling: Rob-GAN's blocks call ``F.upsample(x, size=...)``, whose mode is
    nearest (Mimicry's SNGAN blocks use bilinear)."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


class ConditionalGBlock(nn.Module):
    """SN-GAN's generator block with conditional BatchNorm: CBN-ReLU-(up)-conv3x3-CBN-ReLU-conv3x3,
    1x1 shortcut when the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, num_classes: int, upsample: bool = True) -> None:
        super().__init__()
        self.upsample = upsample
        self.b1 = ConditionalBatchNorm2d(in_channels, num_classes)
        self.c1 = xavier(nn.Conv2d(in_channels, out_channels, 3, 1, 1), math.sqrt(2))
        self.b2 = ConditionalBatchNorm2d(out_channels, num_classes)
        self.c2 = xavier(nn.Conv2d(out_channels, out_channels, 3, 1, 1), math.sqrt(2))
        learnable = in_channels != out_channels or upsample
        self.c_sc = xavier(nn.Conv2d(in_channels, out_channels, 1, 1, 0), 1.0) if learnable else None

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        h = F.relu(self.b1(x, labels))
        h = self.c1(upsample_nearest(h) if self.upsample else h)
        h = self.c2(F.relu(self.b2(h, labels)))
        shortcut = x if self.c_sc is None else self.c_sc(upsample_nearest(x) if self.upsample else x)
        return h + shortcut


class ConditionalResNetGenerator(Generator):
    """``(z, y) -> Linear -> (C0, b, b) -> conditional blocks -> BN-ReLU-conv3x3-tanh``.

    Args:
        num_classes: number of classes; ``G(z, labels)`` takes one class index per sample.
        latent_dim: size of z.
        channels: ``[C0, ..., Ck]``, block i maps C(i-1) to Ci.
        upsample: for each block, whether it doubles the resolution.
        bottom_width: side of the first feature map.
        out_channels: image channels.
    """

    def __init__(self, num_classes: int, latent_dim: int, channels: Sequence[int], upsample: Sequence[bool],
                 bottom_width: int = 4, out_channels: int = 3) -> None:
        super().__init__(latent_dim)
        if num_classes < 1:
            raise ValueError(f"num_classes={num_classes} is invalid; a conditional generator needs >= 1 class.")
        self.num_classes = int(num_classes)
        self.channels, self.bottom_width = list(channels), bottom_width
        self.resolution = bottom_width * 2 ** sum(upsample)
        self.output_shape = (out_channels, self.resolution, self.resolution)
        self.l1 = xavier(nn.Linear(latent_dim, bottom_width**2 * channels[0]), 1.0)
        self.blocks = nn.ModuleList(
            ConditionalGBlock(c_in, c_out, num_classes, up) for c_in, c_out, up in zip(channels[:-1], channels[1:], upsample)
        )
        self.b_out = nn.BatchNorm2d(channels[-1])
        self.c_out = xavier(nn.Conv2d(channels[-1], out_channels, 3, 1, 1), 1.0)

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        labels = check_labels(labels, self.num_classes, len(z)).to(z.device)
        h = self.l1(z).view(len(z), self.channels[0], self.bottom_width, self.bottom_width)
        for block in self.blocks:
            h = block(h, labels)
        return torch.tanh(self.c_out(F.relu(self.b_out(h))))


class ACResNetDiscriminator(ResNetDiscriminator):
    """SN-GAN's ResNet discriminator with an auxiliary classifier: shared features ``h`` (ReLU, global
    sum pool), ``forward(x) = linear(h)`` the real/fake logit ``(N, 1)`` and ``classify(x)`` the class
    logits ``(N, num_classes)``; :meth:`forward_both` returns both from one pass.

    Args:
        num_classes: classes of the class head.
        channels, downsample, in_channels, relu_shortcut: as :class:`~datgan_lightning.nets.sngan.base.ResNetDiscriminator`.
        spectral_norm: spectral norm on every layer (SN-GAN); Rob-GAN's code has none (``False``):
            the adversarial training is its regulariser.
    """

    def __init__(self, num_classes: int, channels: Sequence[int], downsample: Sequence[bool], in_channels: int = 3,
                 relu_shortcut: bool = False, spectral_norm: bool = False) -> None:
        super().__init__(channels, downsample, in_channels, relu_shortcut)
        self.num_classes = int(num_classes)
        self.l_class = xavier(nn.Linear(channels[-1], num_classes), 1.0)
        if spectral_norm:
            self.l_class = sn(self.l_class)
        else:
            _remove_spectral_norm(self)

    def forward_both(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(real/fake logit (N, 1), class logits (N, num_classes))`` from one pass over the features."""
        h = self.features(x)
        return self.l_out(h), self.l_class(h)

    def classify(self, x: Tensor) -> Tensor:
        """The class logits ``(N, num_classes)``: what accuracy under attack and fine-tuning use."""
        return self.l_class(self.features(x))

    def classifier_parameters(self) -> list[nn.Parameter]:
        """The classifier ``x -> class logits``: everything but the real/fake head."""
        head = {id(p) for p in self.l_out.parameters()}
        return [p for p in self.parameters() if id(p) not in head]


class ProjectionResNetDiscriminator(Discriminator):
    """Projection discriminator (Miyato & Koyama 2018): ``logit = linear(h) + <embed(y), h>`` on SN-GAN's
    ResNet features, spectral norm everywhere; ``forward(x, labels)`` returns ``(N, 1)``.

    Strategies and regularizers call ``D(x)`` without labels; this D refuses that with one sentence.
    """

    def __init__(self, num_classes: int, channels: Sequence[int], downsample: Sequence[bool], in_channels: int = 3,
                 relu_shortcut: bool = False) -> None:
        super().__init__()
        self.num_classes = int(num_classes)
        self.trunk = ResNetDiscriminator(channels, downsample, in_channels, relu_shortcut)
        self.embed = sn(nn.Embedding(num_classes, channels[-1]))
        nn.init.xavier_uniform_(self.embed.parametrizations.weight.original)
        self.channels = self.trunk.channels

    def features(self, x: Tensor) -> Tensor:
        return self.trunk.features(x)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        if labels is None:
            raise ValueError(
                "ProjectionResNetDiscriminator needs labels, D(x, labels); the perturbation strategies and "
                "regularizers call D(x) without them, so use ACResNetDiscriminator with those."
            )
        labels = check_labels(labels, self.num_classes, len(x)).to(x.device)
        h = self.features(x)
        return self.trunk.l_out(h) + (self.embed(labels) * h).sum(dim=1, keepdim=True)


def _remove_spectral_norm(module: nn.Module) -> None:
    for m in module.modules():
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)


# ------------------------------------------------------------------ sizes of the paper (ngf = ndf = 64)
def generator32(num_classes: int = 10, latent_dim: int = 128, ngf: int = 64, out_channels: int = 3) -> ConditionalResNetGenerator:
    """Rob-GAN's 32 px G: 16c at 4x4, three up-blocks to 2c at 32x32, one more block to c (c = ngf)."""
    c = ngf
    return ConditionalResNetGenerator(num_classes, latent_dim, [16 * c, 8 * c, 4 * c, 2 * c, c], [True, True, True, False], 4, out_channels)


def generator64(num_classes: int = 143, latent_dim: int = 128, ngf: int = 64, out_channels: int = 3) -> ConditionalResNetGenerator:
    """Rob-GAN's 64 px G: 16c at 4x4, four up-blocks to c at 64x64."""
    c = ngf
    return ConditionalResNetGenerator(num_classes, latent_dim, [16 * c, 8 * c, 4 * c, 2 * c, c], [True] * 4, 4, out_channels)


D_PLANS = {  # resolution: (channels as multiples of ndf, downsample after the first block)
    32: ([2, 2, 2, 2], [True, False, False]),
    64: ([1, 2, 4, 8, 16], [True, True, True, True]),
}


def ac_discriminator(resolution: int, num_classes: int, ndf: int = 64, in_channels: int = 3, spectral_norm: bool = False) -> ACResNetDiscriminator:
    """Rob-GAN's ``ResNetAC`` at 32 (``2·ndf`` channels throughout) or 64 px (``ndf``..``16·ndf``)."""
    mult, down = D_PLANS[resolution]
    return ACResNetDiscriminator(num_classes, [m * ndf for m in mult], down, in_channels, spectral_norm=spectral_norm)


def projection_discriminator(resolution: int, num_classes: int, ndf: int = 64, in_channels: int = 3) -> ProjectionResNetDiscriminator:
    """The projection discriminator with the same channel plan as :func:`ac_discriminator`."""
    mult, down = D_PLANS[resolution]
    return ProjectionResNetDiscriminator(num_classes, [m * ndf for m in mult], down, in_channels)
