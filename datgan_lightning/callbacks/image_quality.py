"""FID / KID / IS (and any torchmetrics image metric) during training and for ``datgan evaluate``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info
from torchmetrics import Metric

from datgan_lightning.callbacks.base import EveryNIterations
from datgan_lightning.errors import ConfigurationError
from datgan_lightning.metrics.extractors import FeatureExtractor
from datgan_lightning.metrics.image_metrics import ImageMetrics, fid_kid_is

DEFAULT_CACHE = Path.home() / ".cache" / "datgan_lightning" / "real_features"


class ImageQualityMetrics(EveryNIterations):
    """torchmetrics image metrics of the samples against the datamodule's train and test splits, logged as
    ``<key>/<split>/<extractor>`` (``fid/test/inception-v3``, ``kid/...``, ``kid_std/...``) and, for
    metrics of the samples alone, ``<key>/<extractor>`` (``is/...``), and kept in
    ``<log dir>/image_quality.json``. Samples come from the EMA generator when the module has one.

    Give the metrics (``metrics: {fid: <FrechetInceptionDistance>, ...}``, each with its ``feature``
    network), or only an ``extractor``: the papers' FID, KID and IS on it (:func:`~datgan_lightning.metrics.image_metrics.fid_kid_is`).
    Real statistics are computed once and cached on disk; under DDP torchmetrics synchronises the
    metrics' states and every rank computes the one-device numbers
    (:class:`~datgan_lightning.metrics.image_metrics.ImageMetrics`). The feature networks live in this
    callback, never in the module, so checkpoints do not carry them.

    Args:
        metrics: ``{key: torchmetrics Metric}``: any metric with ``update(images, real=...)`` (FID, KID,
            MiFID), kept per split, or ``update(images)`` (IS); images arrive as uint8.
        extractor: instead of ``metrics``: :class:`~datgan_lightning.metrics.extractors.InceptionV3Features`
            (standard) or :class:`~datgan_lightning.metrics.extractors.DomainClassifierFeatures` (offline)
            for FID, KID and IS.
        every_n_iterations: interval in generator iterations (and after the last one).
        splits: real splits to compare with, from ``train``/``test``.
        num_real, num_fake: samples per split (the papers: 50k train, 10k test).
        batch_size, cache_dir, seed: see :class:`~datgan_lightning.metrics.image_metrics.ImageMetrics`;
            ``cache_dir`` defaults to ``~/.cache/datgan_lightning/real_features`` (``null``: none).
        kid_subsets, kid_subset_size, is_splits: KID's subsets (``kid_subset_size`` capped at the
            smallest sample count) and IS's splits, with ``extractor`` only.

    Raises:
        ConfigurationError: both or neither of ``metrics`` and ``extractor``, or bad splits; in ``setup``
            (before the first step), a feature network that cannot be built, e.g. InceptionV3 weights
            that are not cached and cannot be downloaded.
    """

    json_name = "image_quality.json"

    def __init__(
        self,
        metrics: dict[str, Metric] | None = None,
        extractor: FeatureExtractor | None = None,
        every_n_iterations: int = 5000,
        splits: Sequence[str] = ("train", "test"),
        num_real: dict[str, int] | None = None,
        num_fake: dict[str, int] | None = None,
        batch_size: int = 100,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        is_splits: int = 10,
        cache_dir: str | None = str(DEFAULT_CACHE),
        seed: int = 0,
    ) -> None:
        super().__init__(every_n_iterations)
        unknown = [s for s in splits if s not in ("train", "test")]
        if unknown or not splits:
            raise ConfigurationError(f"ImageQualityMetrics: splits={list(splits)} is invalid; use a non-empty subset of ['train', 'test'].")
        if (metrics is None) == (extractor is None):
            raise ConfigurationError(
                "ImageQualityMetrics: give exactly one of metrics (torchmetrics metrics, each with its feature network) "
                "or extractor (FID, KID and IS on it)."
            )
        if metrics is None:
            counts = [*(num_real or {}).values(), *(num_fake or {}).values()] or [kid_subset_size]
            metrics = fid_kid_is(extractor, kid_subsets, min(kid_subset_size, *counts), is_splits)
        self.splits = tuple(splits)
        self.metrics = ImageMetrics(metrics, self.splits, num_real, num_fake, batch_size, cache_dir, seed)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Before the first step: build every metric's feature network (InceptionV3's weights are read or
        downloaded here), so that a network that cannot be built stops the run in one sentence before it
        trains, not at the first evaluation after it."""
        super().setup(trainer, pl_module, stage)
        self.metrics.build_feature_networks()

    def evaluate(self, module: LightningModule, datamodule: Any) -> dict[str, float]:
        datasets = {}
        for split in self.splits:
            dataset = getattr(datamodule, f"{split}_dataset", None)
            if dataset is None:
                raise ConfigurationError(
                    f"ImageQualityMetrics: {type(datamodule).__name__} has no {split} split; "
                    f"set splits to the ones it has (e.g. splits=['train'])."
                )
            datasets[split] = dataset
        return self.metrics(module.sampling_generator, datasets, data_key=data_key(datamodule), device=module.device)

    def run(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        metrics = super().run(trainer, pl_module)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if "_std/" not in k)
        rank_zero_info(f"Iteration {pl_module.generator_iterations}: {shown}")
        return metrics


# DataModule options that change how images are batched or fetched, not which pixels they hold
LOADING_OPTIONS = frozenset({"batch_size", "num_workers", "pin_memory", "seed", "download"})


def data_key(datamodule: Any) -> str:
    """Names the images a datamodule yields, for the real-feature cache: its class and a hash of every
    option that defines the pixels (its hyperparameters except :data:`LOADING_OPTIONS`: root, crop,
    image size, test root, subset sizes, ...), with paths made absolute. Changing any of them misses
    the cache instead of reusing another dataset's features."""
    options = dict(getattr(datamodule, "hparams", None) or {})
    for name in ("root", "path", "image_size"):  # datamodules that do not save their hyperparameters
        if name not in options and getattr(datamodule, name, None) is not None:
            options[name] = getattr(datamodule, name)
    identity = {k: _absolute_if_path(v) for k, v in sorted(options.items()) if k not in LOADING_OPTIONS}
    cls = type(datamodule)
    text = json.dumps({"class": f"{cls.__module__}.{cls.__qualname__}", **identity}, sort_keys=True, default=str)
    return f"{cls.__name__}{options.get('image_size', '')}-{hashlib.sha1(text.encode()).hexdigest()[:12]}"


def _absolute_if_path(value: Any) -> Any:
    if isinstance(value, (str, Path)) and str(value) and Path(value).exists():
        return str(Path(value).resolve())
    return value
