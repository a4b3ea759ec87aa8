"""Lightning callbacks: they observe training and never change it."""

from datgan_lightning.callbacks.classifier_robustness import ClassifierRobustness
from datgan_lightning.callbacks.divergence import DivergenceGuard
from datgan_lightning.callbacks.image_quality import ImageQualityMetrics
from datgan_lightning.callbacks.mixture import MixtureMetrics
from datgan_lightning.callbacks.resume import ResumeState
from datgan_lightning.callbacks.robustness import RobustnessMetrics
from datgan_lightning.callbacks.samples import SampleGrid
from datgan_lightning.callbacks.timing import IterationTimer

__all__ = [
    "ClassifierRobustness",
    "DivergenceGuard",
    "ImageQualityMetrics",
    "IterationTimer",
    "MixtureMetrics",
    "ResumeState",
    "RobustnessMetrics",
    "SampleGrid",
]
