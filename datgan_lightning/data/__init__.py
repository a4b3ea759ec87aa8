"""Data modules: they know data, not models."""

from datgan_lightning.data.mixture import GaussianMixture2D, nine_gaussians, sample_mixture
from datgan_lightning.data.npz import NpzImages

__all__ = ["GaussianMixture2D", "NpzImages", "nine_gaussians", "sample_mixture"]
