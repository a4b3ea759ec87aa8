"""torchmetrics image metrics of a generator against real splits: FID, KID, IS, MiFID, ... with our extractors.

Any torchmetrics ``Metric`` fits: one whose ``update(images, real=...)`` takes real and generated
images (FID, KID, MiFID) is kept once per split and named ``<key>/<split>/<extractor>``; one whose
``update(images)`` takes only generated images (IS) is named ``<key>/<extractor>``. A metric
returning ``(mean, std)`` also gives ``<key>_std/...``. Images reach the metrics as uint8 in [0, 255]
(torchmetrics' convention, ``normalize=False``), so torchmetrics' own Inception works as well as our
:mod:`~datgan_lightning.metrics.extractors` (``feature=InceptionV3Features(output=...)``).

Real statistics are computed once: the split's metrics keep them across evaluations
(``reset_real_features=False``, set here) and, with ``cache_dir``, they are stored on disk (the
metric's ``real_*`` states) under the datamodule's key, the split, the count, the extractor and the
metric's class, so a later run pays only for the fakes.

Under DDP the metrics synchronise their own states (torchmetrics' ``sync``) at ``compute``. Images
are dealt out in global batches of ``batch_size x world_size``, each rank taking a contiguous part,
so the gathered per-batch lists come back in the one-device order and KID's subsets and IS's
shuffle (seeded) give the one-device numbers; every rank gets the same dictionary.

Example:
    >>> from torch.utils.data import TensorDataset
    >>> from torchmetrics.image import FrechetInceptionDistance, InceptionScore
    >>> from datgan_lightning.metrics.extractors import FeatureExtractor
    >>> class Pixels(FeatureExtractor):                      # a toy extractor: 4 pixel features
    ...     name, features_dim, logits_dim = "pixels", 4, 4
    ...     def extract(self, x):
    ...         f = x.flatten(1)[:, :4].float() / 255
    ...         return f, f
    >>> class G(torch.nn.Module):
    ...     latent_dim = 4
    ...     def forward(self, z):
    ...         return z.tanh().view(-1, 1, 2, 2)
    >>> metrics = {"fid": FrechetInceptionDistance(feature=Pixels(output="features")),
    ...            "is": InceptionScore(feature=Pixels(output="logits"), splits=2)}
    >>> scores = ImageMetrics(metrics, splits=["test"], num_real={"test": 64}, batch_size=16)
    >>> sorted(scores(G(), {"test": TensorDataset(torch.rand(64, 1, 2, 2) * 2 - 1)}, data_key="toy"))
    ['fid/test/pixels', 'is/pixels', 'is_std/pixels']
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset, default_collate
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat, dim_zero_sum

from datgan_lightning.errors import ConfigurationError
from datgan_lightning.metrics.extractors import FeatureExtractor, to_uint8
from datgan_lightning.metrics.fidelity import RealFeatureCache, _images, real_key, sample_counts, seeded_inputs
from datgan_lightning.utils import eval_mode


def takes_real_images(metric: Metric) -> bool:
    """Whether ``metric.update`` compares real and generated images (has a ``real`` argument)."""
    return "real" in inspect.signature(metric.update).parameters


def feature_network(metric: Metric) -> nn.Module | None:
    """The metric's feature network (torchmetrics keeps it under the name in ``feature_network``), if any."""
    return getattr(metric, getattr(metric, "feature_network", "inception"), None)


def feature_name(metric: Metric) -> str | None:
    """The name of the metric's feature network, for log names and cache keys: our extractors' ``name``,
    ``torchmetrics-inception-v3[-antialias]`` for torchmetrics' own, ``None`` for a metric without one."""
    network = feature_network(metric)
    if isinstance(network, FeatureExtractor):
        return network.name
    if network is None:
        return None
    if hasattr(network, "use_antialias"):  # torchmetrics' NoTrainInceptionV3
        return "torchmetrics-inception-v3" + ("-antialias" if network.use_antialias else "")
    return type(network).__name__


def fid_kid_is(extractor: FeatureExtractor, kid_subsets: int = 100, kid_subset_size: int = 1000, is_splits: int = 10) -> dict[str, Metric]:
    """The papers' three metrics as torchmetrics metrics on one extractor: ``{"fid", "kid", "is"}``."""
    from torchmetrics.image import FrechetInceptionDistance, InceptionScore, KernelInceptionDistance

    features = extractor.with_output("features")
    return {
        "fid": FrechetInceptionDistance(feature=features),
        "kid": KernelInceptionDistance(feature=features, subsets=kid_subsets, subset_size=kid_subset_size),
        "is": InceptionScore(feature=extractor.with_output("logits"), splits=is_splits),
    }


class ImageMetrics:
    """torchmetrics image metrics of a generator's samples against real splits (see the module's doc).

    Args:
        metrics: ``{key: torchmetrics Metric}``; ``key`` starts the logged name (``fid``, ``kid``, ``is``,
            ``mifid``, ...).
        splits: real splits the real-vs-fake metrics compare with.
        num_real: real samples per split (capped at the split's size); the papers: 50k train, 10k test.
        num_fake: generated samples per split (default: as many as reals); each split's metrics get the
            first ``num_fake[split]`` samples, the fake-only metrics (IS) all of the largest count.
        batch_size: images per generator and extractor call (per rank).
        cache_dir: where to keep real statistics between runs; ``None``: memory only.
        seed: seed of the latent batch (every evaluation scores the same ``z``) and of the metrics'
            random subsets (KID) and shuffles (IS); the training RNG is left untouched.

    Raises:
        ConfigurationError: no metrics, a value that is not a torchmetrics ``Metric``, or a real-vs-fake
            metric without ``reset_real_features``.
    """

    def __init__(
        self,
        metrics: Mapping[str, Metric],
        splits: Sequence[str] = ("train", "test"),
        num_real: dict[str, int] | None = None,
        num_fake: dict[str, int] | None = None,
        batch_size: int = 100,
        cache_dir: str | Path | None = None,
        seed: int = 0,
    ) -> None:
        if not metrics:
            raise ConfigurationError("ImageMetrics: metrics is empty; give at least one, e.g. {fid: torchmetrics.image.FrechetInceptionDistance}.")
        self.num_real, self.num_fake = sample_counts("ImageMetrics", num_real, num_fake, batch_size)
        self.splits, self.batch_size, self.seed = tuple(splits), int(batch_size), seed
        self.cache = None if cache_dir is None else RealFeatureCache(cache_dir)
        self.paired: dict[str, dict[str, Metric]] = {split: {} for split in self.splits}  # split -> key -> metric
        self.unpaired: dict[str, Metric] = {}
        for key, metric in metrics.items():
            if not isinstance(metric, Metric):
                raise ConfigurationError(
                    f"ImageMetrics: metrics[{key!r}] is a {type(metric).__name__}, not a torchmetrics Metric; "
                    "use a class such as torchmetrics.image.FrechetInceptionDistance."
                )
            if not takes_real_images(metric):
                self.unpaired[key] = metric
                continue
            if not hasattr(metric, "reset_real_features"):
                raise ConfigurationError(
                    f"ImageMetrics: metrics[{key!r}] ({type(metric).__name__}) has no reset_real_features option, so it "
                    "would forget the real statistics after each evaluation; use a metric that keeps them (FID, KID, MiFID)."
                )
            metric.reset_real_features = False  # real statistics are computed once and kept (and cached)
            for split in self.splits:
                self.paired[split][key] = metric.clone()  # each split has its own real statistics
        self._real_keys: dict[tuple[str, str], str] = {}  # (split, metric key) -> key of the real statistics it holds

    def metrics(self) -> Iterator[Metric]:
        yield from (m for split in self.paired.values() for m in split.values())
        yield from self.unpaired.values()

    def build_feature_networks(self) -> None:
        """Build every metric's feature network now (:meth:`FeatureExtractor.build`: read or download
        weights), so that one that cannot be built is found before training, not at the first evaluation.

        Raises:
            ConfigurationError: a network cannot be built; one sentence naming the metric and the fix.
        """
        keyed = [*((k, m) for split in self.paired.values() for k, m in split.items()), *self.unpaired.items()]
        for key, metric in keyed:
            network = feature_network(metric)
            if not isinstance(network, FeatureExtractor):
                continue  # torchmetrics' own networks are built in the metric's constructor
            try:
                network.build()
            except ConfigurationError:
                raise
            except Exception as err:  # noqa: BLE001 - any failure of a user's extractor becomes one sentence
                reason = (str(err).strip().splitlines() or [type(err).__name__])[0].rstrip(".")
                raise ConfigurationError(
                    f"ImageMetrics: the feature network of metrics[{key!r}] ({type(network).__name__}) cannot be built "
                    f"({type(err).__name__}: {reason}); fix its options or use another extractor."
                ) from err

    def __call__(self, generator: nn.Module, datasets: dict[str, Dataset], data_key: str, device: torch.device | str = "cpu") -> dict[str, float]:
        """``{"<key>/<split>/<extractor>": value, ..., "<key>/<extractor>": value}`` for the splits given."""
        rank, world_size = _rank_and_world_size()
        unknown = [s for s in datasets if s not in self.paired]
        if unknown:
            raise ConfigurationError(f"ImageMetrics: splits {unknown} were not configured; add them to splits={list(self.splits)}.")
        num_real = {s: min(self.num_real.get(s, len(d)), len(d)) for s, d in datasets.items()}
        num_fake = {s: self.num_fake.get(s, num_real[s]) for s in datasets}
        self._check_counts(num_real, num_fake, world_size)
        for metric in self.metrics():
            metric.to(device)
        for split, dataset in datasets.items():
            self._prepare_reals(split, dataset, num_real[split], data_key, device, rank, world_size)
        self._update_fakes(generator, num_fake, device, rank, world_size)
        results: dict[str, float] = {}
        for split in datasets:
            for key, metric in self.paired[split].items():
                results.update(_named(key, split, feature_name(metric), self._compute(metric)))
        for key, metric in self.unpaired.items():
            results.update(_named(key, None, feature_name(metric), self._compute(metric)))
        return results

    def _check_counts(self, num_real: dict[str, int], num_fake: dict[str, int], world_size: int) -> None:
        for split in num_real:
            for key, metric in self.paired[split].items():
                subset_size = getattr(metric, "subset_size", None)
                n = min(num_real[split], num_fake[split])
                if subset_size is not None and subset_size > n:
                    raise ConfigurationError(
                        f"ImageMetrics: metrics[{key!r}] has subset_size={subset_size}, more than the {n} samples of split "
                        f"{split!r}; lower subset_size (kid_subset_size) or raise num_real/num_fake."
                    )
            if min(num_real[split], num_fake[split]) < world_size:
                raise ConfigurationError(
                    f"ImageMetrics: split {split!r} has fewer samples ({min(num_real[split], num_fake[split])}) than the "
                    f"{world_size} processes; raise num_real/num_fake."
                )

    def _prepare_reals(self, split: str, dataset: Dataset, n: int, data_key: str, device: Any, rank: int, world_size: int) -> None:
        pending: dict[str, tuple[Metric, str]] = {}
        for key, metric in self.paired[split].items():
            cache_key = f"{real_key(data_key, split, n, dataset, feature_name(metric) or 'none')}-{type(metric).__qualname__}"
            if self._real_keys.get((split, key)) == cache_key:
                continue  # kept from the last evaluation
            cached = self.cache.load(cache_key) if self.cache is not None and _cacheable(metric) and rank == 0 else None
            # rank 0 alone reads the cache; the others learn whether it hit (and the shapes it holds), so
            # every rank takes the same path: a node-local cache must not make one rank skip a collective
            layout = _from_rank_zero(None if cached is None else {name: t[:0] for name, t in cached.items() if t.dim()}, world_size)
            _set_real_states(metric, cached if rank == 0 else layout, rank)
            if layout is None:
                pending[key] = (metric, cache_key)
            else:
                self._real_keys[(split, key)] = cache_key
        if not pending:
            return
        template = _images(dataset[0])
        for start, stop in _global_batches(n, self.batch_size * world_size):
            lo, hi = _part(start, stop, rank, world_size)
            items = [_images(dataset[i]) for i in range(lo, hi)]
            images = to_uint8(default_collate(items).to(device) if items else template.new_empty((0, *template.shape)).to(device))
            for metric, _ in pending.values():
                metric.update(images, real=True)
        for key, (metric, cache_key) in pending.items():
            if self.cache is not None and _cacheable(metric):
                with metric.sync_context():  # the whole split's statistics (a collective under DDP)
                    states = {name: _one_tensor(getattr(metric, name)) for name in _real_state_names(metric)}
                if rank == 0:
                    self.cache.save(cache_key, states)
            self._real_keys[(split, key)] = cache_key

    @torch.no_grad()
    def _update_fakes(self, generator: nn.Module, num_fake: dict[str, int], device: Any, rank: int, world_size: int) -> None:
        total = max(num_fake.values())
        inputs = seeded_inputs(generator, total, self.seed)
        template = None
        with eval_mode(generator):
            for start, stop in _global_batches(total, self.batch_size * world_size):
                lo, hi = _part(start, stop, rank, world_size)
                if hi > lo:
                    images = template = to_uint8(generator(*(x[lo:hi].to(device) for x in inputs)))
                else:  # fewer images than ranks in the last batch: an empty part keeps every rank's update count equal
                    images = template[:0]
                for split, n in num_fake.items():
                    if start < n:
                        # one tensor per split, shared by its metrics: the extractors see it once (see FeatureExtractor)
                        piece = images if hi <= n else images[: max(0, n - lo)]
                        for metric in self.paired[split].values():
                            metric.update(piece, real=False)
                for metric in self.unpaired.values():
                    metric.update(images)

    def _compute(self, metric: Metric) -> Any:
        """``metric.compute()`` with seeded random subsets, then forget the fakes (the reals stay)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            value = metric.compute()
        metric.reset()
        return value


def _rank_and_world_size() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _global_batches(n: int, size: int) -> Iterator[tuple[int, int]]:
    return ((start, min(start + size, n)) for start in range(0, n, size))


def _part(start: int, stop: int, rank: int, world_size: int) -> tuple[int, int]:
    """Rank ``rank``'s contiguous share of ``[start, stop)``; the shares differ in size by at most one."""
    m = stop - start
    return start + m * rank // world_size, start + m * (rank + 1) // world_size


def _named(key: str, split: str | None, extractor: str | None, value: Any) -> dict[str, float]:
    suffix = "".join(f"/{part}" for part in (split, extractor) if part)
    if isinstance(value, Tensor) and value.numel() == 1:
        return {f"{key}{suffix}": float(value)}
    if isinstance(value, tuple) and len(value) == 2:  # torchmetrics' (mean, std): KID, IS
        return {f"{key}{suffix}": float(value[0]), f"{key}_std{suffix}": float(value[1])}
    if isinstance(value, dict):
        return {f"{key}_{name}{suffix}": float(v) for name, v in value.items()}
    raise ConfigurationError(
        f"ImageMetrics: metrics[{key!r}] returned {type(value).__name__} {tuple(getattr(value, 'shape', ()))}; "
        "use a metric returning one number, (mean, std) or a dict of numbers."
    )


def _real_state_names(metric: Metric) -> list[str]:
    return [name for name in metric._defaults if name.startswith("real_")]  # torchmetrics' naming (FID, KID, MiFID)


def _cacheable(metric: Metric) -> bool:
    """Real states that can be stored whole and dealt back to ranks: lists of tensors, or sums."""
    names = _real_state_names(metric)
    return bool(names) and all(isinstance(metric._defaults[n], list) or metric._reductions[n] is dim_zero_sum for n in names)


def _one_tensor(value: Tensor | list[Tensor]) -> Tensor:
    return dim_zero_cat(value) if isinstance(value, list) else value


def _set_real_states(metric: Metric, states: dict[str, Tensor] | None, rank: int) -> None:
    """Real states from the cache, or empty ones for ``None``. Under DDP rank 0 holds them whole and the
    other ranks nothing (zero sums; for lists one empty tensor of the same layout, which is what they
    are given), so the synchronised state is the cached one and every rank's lists have one element."""
    for name in _real_state_names(metric):
        default = metric._defaults[name]
        if states is None:
            value: Any = [] if isinstance(default, list) else default.clone().to(metric.device)
        elif isinstance(default, list):
            value = [states[name].to(metric.device)]
        else:
            value = (states[name] if rank == 0 else default.clone()).to(metric.device)
        setattr(metric, name, value)


def _from_rank_zero(value: Any, world_size: int) -> Any:
    """Rank 0's ``value`` on every rank (a picklable object)."""
    if world_size == 1:
        return value
    box = [value]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]
