"""Conditional BatchNorm: batch statistics shared by all classes, a scale and a shift per class."""

from __future__ import annotations

from torch import Tensor, nn


class ConditionalBatchNorm2d(nn.Module):
    """``gamma[y] * BN(x) + beta[y]``: BatchNorm without its own affine, then class ``y``'s scale and
    shift (Rob-GAN's ``CatCondBatchNorm2d``, SN-GAN's conditional generator); scales start at 1, shifts at 0.

    Example:
        >>> import torch
        >>> bn = ConditionalBatchNorm2d(4, num_classes=3)
        >>> bn(torch.randn(2, 4, 5, 5), torch.tensor([0, 2])).shape
        torch.Size([2, 4, 5, 5])
    """

    def __init__(self, num_features: int, num_classes: int, momentum: float = 0.9, eps: float = 2e-5) -> None:
        super().__init__()
        self.num_features, self.num_classes = num_features, num_classes
        # Rob-GAN's CatCondBatchNorm2d passes decay=0.9 as F.batch_norm's momentum (running statistics
        # follow the latest batch closely) and eps=2e-5; eval-mode sampling (FID, fine-tuning fakes) uses them
        self.bn = nn.BatchNorm2d(num_features, affine=False, momentum=momentum, eps=eps)
        self.gamma = nn.Embedding(num_classes, num_features)
        self.beta = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        gamma = self.gamma(labels)[:, :, None, None]
        beta = self.beta(labels)[:, :, None, None]
        return gamma * self.bn(x) + beta
