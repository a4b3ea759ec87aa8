"""FID / KID / IS during training and for ``datgan evaluate``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info

from datgan_lightning.callbacks.base import EveryNIterations
from datgan_lightning.errors import ConfigurationError
from datgan_lightning.metrics.extractors import FeatureExtractor
from datgan_lightning.metrics.fidelity import ImageQuality

DEFAULT_CACHE = Path.home() / ".cache" / "datgan_lightning" / "real_features"


class ImageQualityMetrics(EveryNIterations):
    """FID and KID against the datamodule's train and test splits and IS of the samples, logged as
    ``fid/<split>/<extractor>``, ``kid/<split>/<extractor>``, ``is/<extractor>`` and kept in
    ``<log dir>/image_quality.json``. Samples come from the EMA generator when the module has one.

    The extractor lives in this callback, never in the module, so checkpoints do not carry it.
    Under DDP each rank extracts a shard of the reals and generates a shard of the (seeded) fakes;
    the shards are gathered, so every rank computes the one-device numbers.

    Args:
        extractor: :class:`~datgan_lightning.metrics.extractors.InceptionV3Features` (standard) or
            :class:`~datgan_lightning.metrics.extractors.DomainClassifierFeatures` (offline).
        every_n_iterations: interval in generator iterations (and after the last one).
        splits: real splits to compare with, from ``train``/``test``.
        num_real, num_fake: samples per split (the papers: 50k train, 10k test).
        batch_size, kid_subsets, kid_subset_size, is_splits, seed: see :class:`~datgan_lightning.metrics.fidelity.ImageQuality`.
        cache_dir: real features kept between runs (``~/.cache/datgan_lightning/real_features``); ``null``: none.
    """

    json_name = "image_quality.json"

    def __init__(
        self,
        extractor: FeatureExtractor,
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
            raise ValueError(f"ImageQualityMetrics: splits={list(splits)} is invalid; use a non-empty subset of ['train', 'test'].")
        self.splits = tuple(splits)
        self.quality = ImageQuality(extractor, num_real, num_fake, batch_size, kid_subsets, kid_subset_size, is_splits, cache_dir, seed)

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
        trainer = _attached_trainer(module)
        world_size = trainer.world_size if trainer is not None else 1
        return self.quality(
            module.sampling_generator, datasets, data_key=data_key(datamodule), device=module.device,
            rank=trainer.global_rank if trainer is not None else 0, world_size=world_size,
            gather=module.all_gather if world_size > 1 else None,
        )  # fmt: skip

    def run(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, float]:
        metrics = super().run(trainer, pl_module)
        shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if not k.startswith("kid_std"))
        rank_zero_info(f"Iteration {pl_module.generator_iterations}: {shown}")
        return metrics


def _attached_trainer(module: LightningModule) -> Trainer | None:
    """The module's Trainer, or ``None`` for a bare module (``datgan evaluate`` scores one)."""
    try:
        return module.trainer
    except RuntimeError:  # Lightning: "... is not attached to a `Trainer`"
        return None


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
