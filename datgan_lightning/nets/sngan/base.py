"""SNGAN ResNet generator and discriminator, parameterised by their channel plan."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datgan_lightning.nets.base import Discriminator, Generator
from datgan_lightning.nets.layers import pooled_features, sn, xavier
from datgan_lightning.nets.sngan.resblocks import DBlock, DBlockOptimized, GBlock


class ResNetGenerator(Generator):
    """``z -> Linear -> (C0, b, b) -> up-blocks -> BN-ReLU-conv3x3-tanh``.

    Args:
        latent_dim: size of z.
        channels: ``[C0, C1, ..., Ck]``: the bottom feature map has C0 channels and block i maps
            C(i-1) to Ci while doubling the resolution.
        bottom_width: side of the bottom feature map; the output side is ``bottom_width * 2**k``.
        out_channels: image channels.
    """

    def __init__(self, latent_dim: int, channels: Sequence[int], bottom_width: int, out_channels: int = 3) -> None:
        super().__init__(latent_dim)
        self.channels, self.bottom_width = list(channels), bottom_width
        self.resolution = bottom_width * 2 ** (len(channels) - 1)
        self.output_shape = (out_channels, self.resolution, self.resolution)
        self.l1 = xavier(nn.Linear(latent_dim, bottom_width**2 * channels[0]), 1.0)
        self.blocks = nn.Sequential(*(GBlock(c_in, c_out, upsample=True) for c_in, c_out in zip(channels[:-1], channels[1:])))
        self.b_out = nn.BatchNorm2d(channels[-1])
        self.c_out = xavier(nn.Conv2d(channels[-1], out_channels, 3, 1, 1), 1.0)

    def forward(self, z: Tensor) -> Tensor:
        h = self.l1(z).view(len(z), self.channels[0], self.bottom_width, self.bottom_width)
        h = F.relu(self.b_out(self.blocks(h)))
        return torch.tanh(self.c_out(h))


class ResNetDiscriminator(Discriminator):
    """``x -> optimized block -> blocks -> ReLU -> global sum pool -> SN linear``, SN everywhere.

    Args:
        channels: output channels of each block, the first being the optimized block.
        downsample: for each block after the first, whether it halves the resolution.
        in_channels: image channels.
        relu_shortcut: Mimicry's in-place ReLU quirk (see :class:`DBlock`).
    """

    def __init__(
        self, channels: Sequence[int], downsample: Sequence[bool], in_channels: int = 3, relu_shortcut: bool = True
    ) -> None:
        super().__init__()
        if len(downsample) != len(channels) - 1:
            raise ValueError(f"downsample={list(downsample)} needs one entry per block after the first ({len(channels) - 1}).")
        self.channels = list(channels)
        blocks: list[nn.Module] = [DBlockOptimized(in_channels, channels[0])]
        for c_in, c_out, down in zip(channels[:-1], channels[1:], downsample):
            blocks.append(DBlock(c_in, c_out, downsample=down, relu_shortcut=relu_shortcut))
        self.blocks = nn.Sequential(*blocks)
        self.l_out = sn(xavier(nn.Linear(channels[-1], 1), 1.0))
        self.min_size = 2 ** (1 + sum(downsample))

    def block_outputs(self, x: Tensor) -> list[Tensor]:
        """The output of every block, ``(N, C_i, h_i, w_i)``: local features for heads such as InfoMax's."""
        self._check_input(x)
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        return outputs

    def features(self, x: Tensor) -> Tensor:
        """The global feature vector ``(N, C)``: ReLU of the last block, summed over space (what the output layer sees)."""
        return pooled_features(self.block_outputs(x)[-1])

    def forward(self, x: Tensor) -> Tensor:
        return self.l_out(self.features(x))

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4 or min(x.shape[-2:]) < self.min_size:
            raise ValueError(
                f"{type(self).__name__} got input of shape {tuple(x.shape)}; it needs (N, C, H, W) images "
                f"with H, W >= {self.min_size}."
            )
