"""Lightning callbacks: they observe training and never change it."""

from datgan_lightning.callbacks.mixture import MixtureMetrics
from datgan_lightning.callbacks.timing import IterationTimer

__all__ = ["IterationTimer", "MixtureMetrics"]
