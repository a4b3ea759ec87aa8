"""Layers shared by the net families (SNGAN ResNets, the conditional ResNets, the auxiliary heads).

Example:
    >>> import torch
    >>> conv = sn(xavier(torch.nn.Conv2d(3, 4, 3), 1.0))
    >>> pooled_features(conv(torch.randn(2, 3, 8, 8))).shape  # summed over the 6x6 positions
    torch.Size([2, 4])
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm


def xavier(module: nn.Module, gain: float) -> nn.Module:
    """Xavier-uniform init of ``module.weight`` with ``gain``; biases keep PyTorch's default init, as in Mimicry."""
    nn.init.xavier_uniform_(module.weight, gain)
    return module


def sn(module: nn.Module) -> nn.Module:
    """Spectral norm with one power iteration per training-mode forward (torch's parametrization)."""
    return spectral_norm(module)


def pooled_features(last_block_output: Tensor) -> Tensor:
    """Mimicry's global sum pooling after the final ReLU."""
    return F.relu(last_block_output).sum(dim=(2, 3))
