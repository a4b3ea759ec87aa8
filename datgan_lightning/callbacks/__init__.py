"""Lightning callbacks: they observe training and never change it."""

from datgan_lightning.callbacks.classifier_robustness import ClassifierRobustness
from datgan_lightning.callbacks.image_quality import ImageQualityMetrics
from datgan_lightning.callbacks.mixture import MixtureMetrics
from datgan_lightning.callbacks.robustness import RobustnessMetrics
from datgan_lightning.callbacks.samples import SampleGrid
from datgan_lightning.callbacks.timing import IterationTimer

__all__ = ["ClassifierRobustness", "ImageQualityMetrics", "IterationTimer", "MixtureMetrics", "RobustnessMetrics", "SampleGrid"]
