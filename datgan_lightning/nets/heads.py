"""Auxiliary discriminator heads of SSGAN and InfoMaxGAN, separate from any discriminator.

Each head takes feature tensors, not images, so it attaches to any D that exposes them
(:class:`~datgan_lightning.nets.sngan.ResNetDiscriminator` has ``features`` and ``block_outputs``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datgan_lightning.nets.layers import sn, xavier


def rotate_quarters(images: Tensor) -> tuple[Tensor, Tensor]:
    """Rotate sample ``i`` of a batch of ``N`` by ``90 * (4i // N)`` degrees (Mimicry's split: four
    near-equal quarters at 0, 90, 180 and 270 degrees, also when ``N`` is not a multiple of 4); returns
    the images and the rotation labels 0-3 (SSGAN's self-supervised task).

    Example:
        >>> import torch
        >>> images, labels = rotate_quarters(torch.arange(6.0).view(6, 1, 1, 1).expand(6, 1, 2, 2))
        >>> labels.tolist()
        [0, 0, 1, 2, 2, 3]
    """
    labels = torch.arange(len(images), device=images.device) * 4 // len(images)
    rotated = torch.cat([torch.rot90(images[labels == k], k, dims=(2, 3)) for k in range(4)])  # labels are sorted
    return rotated, labels


class RotationHead(nn.Module):
    """SSGAN's 4-way rotation classifier: an SN linear layer on D's global feature vector.

    Example:
        >>> import torch
        >>> head = RotationHead(in_features=8)
        >>> head(torch.randn(3, 8)).shape
        torch.Size([3, 4])
    """

    def __init__(self, in_features: int) -> None:
        super().__init__()
        self.linear = sn(xavier(nn.Linear(in_features, 4), 1.0))

    def forward(self, features: Tensor) -> Tensor:
        return self.linear(features)

    def loss(self, features: Tensor, labels: Tensor) -> Tensor:
        """Cross-entropy of the rotation labels given the features of the rotated images."""
        return F.cross_entropy(self(features), labels)


class InfoMaxHead(nn.Module):
    """InfoMaxGAN's projections of local (``(N, C_l, h, w)``) and global (``(N, C_g)``) D features to
    an RKHS of ``rkhs_dim`` dims: two SN 1x1 convs (SN linears for the global vector) with a ReLU
    between them and an SN shortcut, as in Mimicry.

    Example:
        >>> import torch
        >>> head = InfoMaxHead(local_channels=8, global_features=8, rkhs_dim=16)
        >>> head.loss(torch.randn(4, 8, 3, 3), torch.randn(4, 8)).shape
        torch.Size([])
    """

    def __init__(self, local_channels: int, global_features: int, rkhs_dim: int = 1024) -> None:
        super().__init__()
        self.local_a = sn(xavier(nn.Conv2d(local_channels, local_channels, 1), 1.0))
        self.local_b = sn(xavier(nn.Conv2d(local_channels, rkhs_dim, 1), 1.0))
        self.local_shortcut = sn(xavier(nn.Conv2d(local_channels, rkhs_dim, 1), 1.0))
        self.global_a = sn(xavier(nn.Linear(global_features, global_features), 1.0))
        self.global_b = sn(xavier(nn.Linear(global_features, rkhs_dim), 1.0))
        self.global_shortcut = sn(xavier(nn.Linear(global_features, rkhs_dim), 1.0))

    def forward(self, local_features: Tensor, global_features: Tensor) -> tuple[Tensor, Tensor]:
        """Projected local features ``(N, R, h*w)`` and global features ``(N, R)``."""
        local = self.local_b(F.relu(self.local_a(local_features))) + self.local_shortcut(local_features)
        global_ = self.global_b(F.relu(self.global_a(global_features))) + self.global_shortcut(global_features)
        return local.flatten(2), global_

    def loss(self, local_features: Tensor, global_features: Tensor) -> Tensor:
        return infonce_loss(*self(local_features, global_features))


def infonce_loss(local: Tensor, global_: Tensor, self_mask_value: float = -10.0) -> Tensor:
    """InfoNCE between each image's global vector and its local vectors (Mimicry's ``infonce_loss``).

    For image ``n`` and position ``l`` the positive score is ``<local[n, :, l], global[n]>``; the
    negatives are ``<local[m, :, l'], global[n]>`` for every other image ``m`` and every position
    ``l'``. As in Mimicry, the scores of image ``n``'s own positions are not removed from the
    negatives but set to ``self_mask_value`` (-10). Returns ``-mean log softmax`` of the positive.

    Args:
        local: ``(N, R, L)`` projected local features.
        global_: ``(N, R)`` projected global features.
    """
    n, _, positions = local.shape
    positive = torch.einsum("nrl,nr->nl", local, global_)  # (N, L)
    scores = torch.einsum("mrl,nr->nml", local, global_)  # (N anchors, N images, L)
    own = torch.eye(n, dtype=torch.bool, device=local.device)[:, :, None].expand(n, n, positions)
    scores = scores.masked_fill(own, self_mask_value)
    negatives = scores.reshape(n, 1, n * positions).expand(n, positions, n * positions)
    log_softmax = torch.log_softmax(torch.cat([positive.unsqueeze(2), negatives], dim=2), dim=2)
    return -log_softmax[:, :, 0].mean()
