"""Metrics: functions of generators and samples, not of training loops."""

from datgan_lightning.metrics.mixture import mixture_scores

__all__ = ["mixture_scores"]
