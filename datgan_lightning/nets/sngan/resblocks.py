"""Residual blocks of Mimicry's SNGAN ResNets (after the Chainer SNGAN reference).

Generator blocks: BN-ReLU-(bilinear 2x up)-conv3x3-BN-ReLU-conv3x3, 1x1 shortcut when the shape changes.
Discriminator blocks: ReLU-conv3x3-ReLU-conv3x3-(avg-pool 2x), spectral norm on every conv,
1x1 shortcut when the shape changes. Xavier-uniform init: gain sqrt(2) on the residual convs,
1 on the shortcuts.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datgan_lightning.nets.layers import sn, xavier


def upsample(x: Tensor) -> Tensor:
    """Bilinear 2x upsampling, as Mimicry's generator blocks do.

    PyTorch's CPU bilinear kernel is slow on NCHW tensors (measured 2x slower at the 16x16 -> 32x32
    step of SNGAN-32, the copies included) and gives the same values on channels_last ones, so a
    contiguous CPU input is upsampled in channels_last and handed back contiguous.
    """
    if x.device.type == "cpu" and x.is_contiguous():
        y = F.interpolate(x.contiguous(memory_format=torch.channels_last), scale_factor=2, mode="bilinear", align_corners=False)
        return y.contiguous()
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class GBlock(nn.Module):
    """Generator block; ``hidden_channels`` defaults to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int, upsample: bool = False, hidden_channels: int | None = None) -> None:
        super().__init__()
        hidden = out_channels if hidden_channels is None else hidden_channels
        self.upsample = upsample
        self.b1 = nn.BatchNorm2d(in_channels)
        self.c1 = xavier(nn.Conv2d(in_channels, hidden, 3, 1, 1), math.sqrt(2))
        self.b2 = nn.BatchNorm2d(hidden)
        self.c2 = xavier(nn.Conv2d(hidden, out_channels, 3, 1, 1), math.sqrt(2))
        learnable_shortcut = in_channels != out_channels or upsample
        self.c_sc = xavier(nn.Conv2d(in_channels, out_channels, 1, 1, 0), 1.0) if learnable_shortcut else None

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.b1(x))
        h = self.c1(upsample(h) if self.upsample else h)
        h = self.c2(F.relu(self.b2(h)))
        if self.c_sc is None:
            return h + x
        return h + self.c_sc(upsample(x) if self.upsample else x)


class DBlockOptimized(nn.Module):
    """First discriminator block: conv-ReLU-conv-pool, shortcut pool-conv1x1 (no ReLU on the image)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.c1 = sn(xavier(nn.Conv2d(in_channels, out_channels, 3, 1, 1), math.sqrt(2)))
        self.c2 = sn(xavier(nn.Conv2d(out_channels, out_channels, 3, 1, 1), math.sqrt(2)))
        self.c_sc = sn(xavier(nn.Conv2d(in_channels, out_channels, 1, 1, 0), 1.0))

    def forward(self, x: Tensor) -> Tensor:
        h = F.avg_pool2d(self.c2(F.relu(self.c1(x))), 2)
        return h + self.c_sc(F.avg_pool2d(x, 2))


class DBlock(nn.Module):
    """Discriminator block; ``hidden_channels`` defaults to ``in_channels``.

    ``relu_shortcut=True`` reproduces Mimicry exactly: its block applies an *in-place* ReLU to
    its input before the residual branch, so the shortcut also receives ``relu(x)``.
    ``False`` gives the Chainer SNGAN block, whose shortcut sees ``x``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        downsample: bool = False,
        hidden_channels: int | None = None,
        relu_shortcut: bool = True,
    ) -> None:
        super().__init__()
        hidden = in_channels if hidden_channels is None else hidden_channels
        self.downsample = downsample
        self.relu_shortcut = relu_shortcut
        self.c1 = sn(xavier(nn.Conv2d(in_channels, hidden, 3, 1, 1), math.sqrt(2)))
        self.c2 = sn(xavier(nn.Conv2d(hidden, out_channels, 3, 1, 1), math.sqrt(2)))
        learnable_shortcut = in_channels != out_channels or downsample
        self.c_sc = sn(xavier(nn.Conv2d(in_channels, out_channels, 1, 1, 0), 1.0)) if learnable_shortcut else None

    def forward(self, x: Tensor) -> Tensor:
        activated = F.relu(x)
        h = self.c2(F.relu(self.c1(activated)))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        shortcut = activated if self.relu_shortcut else x
        if self.c_sc is not None:
            shortcut = self.c_sc(shortcut)
            if self.downsample:
                shortcut = F.avg_pool2d(shortcut, 2)
        return h + shortcut
