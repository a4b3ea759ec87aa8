"""Data modules: they know data, not models."""

from datgan_lightning.data.mixture import GaussianMixture2D, nine_gaussians, sample_mixture

__all__ = ["GaussianMixture2D", "nine_gaussians", "sample_mixture"]
