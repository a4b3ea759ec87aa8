"""Metrics: functions of generators and samples, not of training loops."""

from datgan_lightning.metrics.extractors import DomainClassifierFeatures, FeatureExtractor, InceptionV3Features
from datgan_lightning.metrics.fidelity import ImageQuality, fid_from_features, inception_score, kid_from_features
from datgan_lightning.metrics.image_metrics import ImageMetrics, fid_kid_is
from datgan_lightning.metrics.mixture import mixture_scores
from datgan_lightning.metrics.robustness import (
    accuracy_table,
    accuracy_under_attack,
    fgsm_accuracy,
    flip_share,
    iterations_to_flip,
    robustness_report,
)

__all__ = [
    "DomainClassifierFeatures", "accuracy_table", "accuracy_under_attack", "FeatureExtractor", "ImageMetrics", "ImageQuality",
    "InceptionV3Features", "fgsm_accuracy", "fid_from_features", "fid_kid_is", "flip_share", "inception_score",
    "iterations_to_flip", "kid_from_features", "mixture_scores", "robustness_report",
]
