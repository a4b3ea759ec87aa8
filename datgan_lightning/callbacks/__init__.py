"""Lightning callbacks: they observe training and never change it."""

from datgan_lightning.callbacks.mixture import MixtureMetrics

__all__ = ["MixtureMetrics"]
