"""Base classes of the networks: a generator knows its latent size."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Generator(nn.Module):
    """A generator maps ``z ~ N(0, I)`` of size ``latent_dim`` to a sample; a class-conditional one
    (``num_classes > 0``) maps ``(z, labels)``."""

    num_classes: int = 0  # > 0: class-conditional, called as G(z, labels)

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim={latent_dim} is invalid; use an integer >= 1.")
        self.latent_dim = latent_dim

    def sample_latent(self, n: int, device: torch.device | str | None = None) -> Tensor:
        return torch.randn(n, self.latent_dim, device=device)

    def sample_labels(self, n: int, device: torch.device | str | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` labels from the uniform class prior (the balanced datasets' prior)."""
        return torch.randint(self.num_classes, (n,), generator=generator).to(device)


def is_conditional(generator: nn.Module) -> bool:
    """Whether ``generator`` takes ``(z, labels)``: it has ``num_classes > 0``."""
    return getattr(generator, "num_classes", 0) > 0


def check_labels(labels: Tensor, num_classes: int, n: int | None = None) -> Tensor:
    """``labels`` as a long tensor, or one sentence saying what is wrong with them."""
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or (n is not None and len(labels) != n):
        raise ValueError(f"labels of shape {tuple(labels.shape)} are invalid; give one class index per sample ({n} here).")
    if labels.dtype.is_floating_point or (len(labels) and (labels.min() < 0 or labels.max() >= num_classes)):
        raise ValueError(
            f"labels {labels.tolist()[:8]}... are invalid for a generator of {num_classes} classes; use integers in [0, {num_classes - 1}]."
        )
    return labels.long()


class Discriminator(nn.Module):
    """A discriminator maps a batch of samples to one raw logit per sample."""
