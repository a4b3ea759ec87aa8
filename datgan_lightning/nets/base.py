"""Base classes of the networks: a generator knows its latent size."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Generator(nn.Module):
    """A generator maps ``z ~ N(0, I)`` of size ``latent_dim`` to a sample."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim={latent_dim} is invalid; use an integer >= 1.")
        self.latent_dim = latent_dim

    def sample_latent(self, n: int, device: torch.device | str | None = None) -> Tensor:
        return torch.randn(n, self.latent_dim, device=device)


class Discriminator(nn.Module):
    """A discriminator maps a batch of samples to one raw logit per sample."""
