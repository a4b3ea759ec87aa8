"""FID, KID and IS of a generator with torch-fidelity's own formulas: the reference engine.

The formulas are torch-fidelity's (``fid_statistics_to_metric``, ``kid_features_to_metric``,
``isc_features_to_metric``), applied to features we extract batch by batch, so the numbers equal
``torch_fidelity.calculate_metrics`` on the same images and extractor, KID's random subsets and IS's
shuffle included (tested). The training callback computes the same metrics as torchmetrics metrics
(:class:`~datgan_lightning.metrics.image_metrics.ImageMetrics`); this engine stays for the
benchmarks, whose earlier numbers it produced, and as the reference the torchmetrics path is tested
against. One process only (no DDP).

Example:
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> class Pixels(FeatureExtractor):                      # a toy extractor: 4 pixel features
    ...     name, features_dim, logits_dim = "pixels", 4, 4
    ...     def extract(self, x):
    ...         f = x.flatten(1)[:, :4].float()
    ...         return f, f
    >>> class G(torch.nn.Module):
    ...     latent_dim = 4
    ...     def forward(self, z):
    ...         return z.tanh().view(-1, 1, 2, 2)
    >>> reals = TensorDataset(torch.rand(64, 1, 2, 2) * 2 - 1)
    >>> quality = ImageQuality(Pixels(), num_real={"test": 64}, kid_subset_size=32, batch_size=16)
    >>> sorted(quality(G(), {"test": reals}, data_key="toy"))
    ['fid/test/pixels', 'is/pixels', 'kid/test/pixels', 'kid_std/test/pixels']
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from lightning_utilities.core.apply_func import apply_to_collection
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

from datgan_lightning.metrics.extractors import FeatureExtractor
from datgan_lightning.utils import eval_mode, write_atomically

PAPER_NUM_REAL = {"train": 50_000, "test": 10_000}  # the papers' protocol: 50k vs train, 10k vs test


def fid_from_features(real: Tensor, fake: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (torch-fidelity's formula)."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

    stats = [fid_features_to_statistics(f.double().cpu()) for f in (real, fake)]
    return fid_statistics_to_metric(*stats, verbose=False)[KEY_METRIC_FID]


def kid_from_features(real: Tensor, fake: Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 2020) -> tuple[float, float]:
    """Mean and std of the unbiased polynomial-kernel MMD² over random subsets (torch-fidelity's KID).

    torch-fidelity's ``calculate_metrics(input1=generated, input2=real)`` passes the *generated*
    features first, and the random subsets are drawn in that order, so they are passed so here too:
    the other order gives other subsets and another number (e.g. 0.0480 instead of 0.0441)."""
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    subset_size = min(subset_size, len(real), len(fake))
    out = kid_features_to_metric(fake.cpu(), real.cpu(), kid_subsets=subsets, kid_subset_size=subset_size, verbose=False, rng_seed=seed)
    return out[KEY_METRIC_KID_MEAN], out[KEY_METRIC_KID_STD]


def inception_score(logits: Tensor, splits: int = 10) -> tuple[float, float]:
    """Mean and std over ``splits`` of ``exp(E KL(p(y|x) || p(y)))`` (torch-fidelity's IS)."""
    from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_features_to_metric

    out = isc_features_to_metric(logits.cpu(), splits=min(splits, len(logits)))
    return out[KEY_METRIC_ISC_MEAN], out[KEY_METRIC_ISC_STD]


class RealFeatureCache:
    """Real features (or a metric's real statistics: a dict of tensors and tensor lists) on disk, one file
    per key, written atomically (temporary file, then rename)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        readable = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[:80]
        return self.directory / f"{readable}-{hashlib.sha1(key.encode()).hexdigest()[:12]}.pt"

    def load(self, key: str) -> Any:
        path = self.path(key)
        return torch.load(path, map_location="cpu", weights_only=True)["features"] if path.is_file() else None

    def save(self, key: str, features: Any) -> Path:
        features = apply_to_collection(features, Tensor, lambda t: t.detach().cpu())
        return write_atomically(self.path(key), lambda tmp: torch.save({"key": key, "features": features}, tmp))


def _images(batch) -> Tensor:
    return batch[0] if isinstance(batch, (tuple, list)) else batch


class ImageQuality:
    """FID and KID against each real split, IS of the fakes, with one feature extractor.

    Real features are extracted once per (split, count) and kept for the next call; with
    ``cache_dir`` they are also stored on disk, keyed by dataset, split, count, image size and
    extractor, so a later run pays only for the fakes. Metric names carry the extractor's name,
    e.g. ``fid/test/inception-v3``.

    Args:
        extractor: a :class:`~datgan_lightning.metrics.extractors.FeatureExtractor`.
        num_real: real samples per split (capped at the split's size); the papers: 50k train, 10k test.
        num_fake: generated samples per split (default: as many as reals); IS uses the largest count.
        batch_size: images per extractor call.
        kid_subsets, kid_subset_size: KID's random subsets (torch-fidelity's 100 x 1000).
        is_splits: IS's splits (10).
        cache_dir: where to keep real features between runs; ``None``: memory only.
        seed: seed of the latent batch, so every evaluation scores the same ``z``.
    """

    def __init__(
        self,
        extractor: FeatureExtractor,
        num_real: dict[str, int] | None = None,
        num_fake: dict[str, int] | None = None,
        batch_size: int = 100,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
        is_splits: int = 10,
        cache_dir: str | Path | None = None,
        seed: int = 0,
    ) -> None:
        self.extractor = extractor
        self.num_real, self.num_fake = sample_counts("ImageQuality", num_real, num_fake, batch_size)
        self.batch_size, self.kid_subsets, self.kid_subset_size, self.is_splits = batch_size, kid_subsets, kid_subset_size, is_splits
        self.cache = None if cache_dir is None else RealFeatureCache(cache_dir)
        self.seed = seed
        self._real: dict[str, Tensor] = {}

    @torch.no_grad()
    def _extract(self, batches: Iterator[Tensor], device: torch.device) -> tuple[Tensor, Tensor]:
        self.extractor.to(device)
        features, logits = [], []
        for images in batches:
            f, lg = self.extractor.with_output(None)(images.to(device))
            features.append(f.float().cpu())
            logits.append(lg.float().cpu())
        return torch.cat(features), torch.cat(logits)

    def real_features(self, split: str, dataset: Dataset, data_key: str, device: torch.device | str = "cpu") -> Tensor:
        """Features of the first ``num_real[split]`` images of ``dataset``: from memory, disk, or extracted."""
        n = min(self.num_real.get(split, len(dataset)), len(dataset))
        key = real_key(data_key, split, n, dataset, self.extractor.name)
        if key not in self._real:
            features = self.cache.load(key) if self.cache is not None else None
            if features is None:
                loader = DataLoader(Subset(dataset, range(n)), batch_size=self.batch_size)
                features = self._extract(map(_images, loader), torch.device(device))[0]
                if self.cache is not None:
                    self.cache.save(key, features)
            self._real[key] = features
        return self._real[key]

    @torch.no_grad()
    def fake_features(self, generator: nn.Module, n: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
        """Features and logits of ``n`` samples of ``generator`` (run in eval mode) from a seeded latent batch."""
        inputs = seeded_inputs(generator, n, self.seed)
        with eval_mode(generator):
            chunks = zip(*(x.split(self.batch_size) for x in inputs))
            batches = (generator(*(x.to(device) for x in chunk)) for chunk in chunks)
            return self._extract(batches, torch.device(device))

    def __call__(self, generator: nn.Module, datasets: dict[str, Dataset], data_key: str, device: torch.device | str = "cpu") -> dict[str, float]:
        """``{"fid/<split>/<extractor>", "kid/...", "kid_std/...", "is/<extractor>"}`` for each split given."""
        name = self.extractor.name
        counts = [self.num_fake.get(split, self.num_real.get(split, len(data))) for split, data in datasets.items()]
        fake, logits = self.fake_features(generator, max(counts), device)
        results = {f"is/{name}": inception_score(logits, self.is_splits)[0]}
        for (split, dataset), n in zip(datasets.items(), counts):
            real = self.real_features(split, dataset, data_key, device)
            results[f"fid/{split}/{name}"] = fid_from_features(real, fake[:n])
            kid, kid_std = kid_from_features(real, fake[:n], self.kid_subsets, self.kid_subset_size)
            results[f"kid/{split}/{name}"], results[f"kid_std/{split}/{name}"] = kid, kid_std
        return results


def sample_counts(
    owner: str, num_real: dict[str, int] | None, num_fake: dict[str, int] | None, batch_size: int
) -> tuple[dict[str, int], dict[str, int]]:
    """``(num_real, num_fake)`` with their defaults (the papers' counts; as many fakes as reals), checked."""
    num_real = dict(PAPER_NUM_REAL if num_real is None else num_real)
    num_fake = dict(num_real if num_fake is None else num_fake)
    for option, counts in (("num_real", num_real), ("num_fake", num_fake)):
        bad = {k: v for k, v in counts.items() if int(v) != v or v < 2}
        if bad:
            raise ValueError(f"{owner}: {option}={bad} is invalid; use at least 2 samples per split.")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"{owner}: batch_size={batch_size} is invalid; use a positive batch size.")
    return num_real, num_fake


def seeded_inputs(generator: nn.Module, n: int, seed: int) -> list[Tensor]:
    """The ``n`` latents (and, for a class-conditional generator, class labels from the uniform prior)
    every evaluation scores: drawn from their own seeded RNG, so the training RNG is untouched."""
    rng = torch.Generator().manual_seed(seed)
    inputs = [torch.randn(n, generator.latent_dim, generator=rng)]
    if getattr(generator, "num_classes", 0) > 0:
        inputs.append(torch.randint(generator.num_classes, (n,), generator=rng))
    return inputs


def real_key(data_key: str, split: str, n: int, dataset: Dataset, extractor: str) -> str:
    """Cache key of statistics of the first ``n`` images of a split: the datamodule's key, the split,
    the count and the split's size, its file list's digest, the image shape and the extractor."""
    first = _images(dataset[0])
    return f"{data_key}-{split}-n{n}of{len(dataset)}{_files_digest(dataset)}-{'x'.join(map(str, first.shape))}-{extractor}"


def _files_digest(dataset: Dataset) -> str:
    """A short hash of the dataset's file list when it exposes one (``files``, ``samples`` or ``imgs``):
    the same count of different files is a different dataset."""
    files = next((getattr(dataset, name) for name in ("files", "samples", "imgs") if hasattr(dataset, name)), None)
    if files is None:
        return ""
    return "-" + hashlib.sha1("\n".join(map(str, files)).encode()).hexdigest()[:8]
