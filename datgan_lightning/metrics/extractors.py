"""Feature extractors for FID, KID, IS and any torchmetrics image metric: images -> (features, logits).

``InceptionV3Features``: torch-fidelity's InceptionV3 (the network of the TF-Inception protocol the
papers use, also what torchmetrics wraps): 2048-d pool features and the 1008-way unbiased logits.
``DomainClassifierFeatures``: a small classifier trained on the dataset (see
:func:`~datgan_lightning.metrics.domain_classifier.train_domain_classifier`): its penultimate
features and logits. Its numbers are comparable only with numbers from the same classifier file.

Each extractor has a ``name`` that goes into the logged metric names and the real-statistics cache key.
With ``output="features"`` or ``output="logits"`` an extractor returns that one tensor, which is what
torchmetrics' ``feature=`` network must do (``FrechetInceptionDistance(feature=InceptionV3Features(output="features"))``,
``InceptionScore(feature=InceptionV3Features(output="logits"))``); its ``num_features`` is that tensor's width.

Example:
    >>> import torch
    >>> from torchmetrics.image import FrechetInceptionDistance
    >>> class MeanColour(FeatureExtractor):                  # a toy extractor: the mean of each channel
    ...     name, features_dim, logits_dim = "meancolour", 3, 3
    ...     def extract(self, images):
    ...         f = images.float().mean(dim=(2, 3))
    ...         return f, f
    >>> fid = FrechetInceptionDistance(feature=MeanColour(output="features"))
    >>> fid.update(torch.randint(0, 128, (8, 3, 4, 4), dtype=torch.uint8), real=True)
    >>> fid.update(torch.randint(128, 256, (8, 3, 4, 4), dtype=torch.uint8), real=False)
    >>> float(fid.compute()) > 1000
    True
"""

from __future__ import annotations

import copy
import functools
import hashlib
from pathlib import Path
from typing import Literal
from urllib.error import URLError

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datgan_lightning.errors import ConfigurationError
from datgan_lightning.nets.classifier import DomainClassifier

Output = Literal["features", "logits"]
INCEPTION_WEIGHTS_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"


def to_uint8(images: Tensor) -> Tensor:
    """Images in [-1, 1] to uint8 in [0, 255] (rounded, as saving them to PNG would); uint8 images pass unchanged."""
    if images.dtype == torch.uint8:
        return images
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


class FeatureExtractor(nn.Module):
    """Base: ``extractor(images) -> (features (N, features_dim), logits (N, logits_dim))``; frozen, eval mode.

    Images are uint8 in [0, 255] (torchmetrics' convention, ``normalize=False``) or floats in [-1, 1]
    (the generators'); both are quantised to 8 bits before :meth:`extract`, so a generator gains
    nothing from sub-quantum detail.

    The last batch's outputs are kept per extractor ``name`` (with the batch itself, compared by
    identity and version): FID, KID and IS each hold their own extractor, and the evaluation feeds the
    same batch tensor to all of them, so each batch goes through the network once, not once per metric.

    Args:
        output: ``None`` returns ``(features, logits)``; ``"features"`` or ``"logits"`` returns that
            tensor alone (a torchmetrics ``feature=`` network).

    Raises:
        ConfigurationError: ``output`` is not one of ``None``, ``"features"``, ``"logits"``.
    """

    name: str = "extractor"
    features_dim: int
    logits_dim: int
    _last_batch: dict[str, tuple[Tensor, int, Tensor, Tensor]] = {}  # name -> (images, their version, features, logits)

    def __init__(self, output: Output | None = None) -> None:
        super().__init__()
        if output not in (None, "features", "logits"):
            raise ConfigurationError(f"{type(self).__name__}: output={output!r} is invalid; use 'features', 'logits' or null (both).")
        self.output = output

    @property
    def num_features(self) -> int:
        """Width of what :meth:`forward` returns (of the features when it returns both); torchmetrics' FID reads it."""
        return self.logits_dim if self.output == "logits" else self.features_dim

    def with_output(self, output: Output | None) -> FeatureExtractor:
        """The same extractor (sharing its weights) returning ``output``."""
        view = copy.copy(self)  # shallow: the submodules, parameters and lazily built networks stay shared
        view.output = output
        return view

    def extract(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``(features, logits)`` of uint8 images; what subclasses implement."""
        raise NotImplementedError

    def build(self) -> FeatureExtractor:
        """Build what :meth:`extract` needs now (read or download weights): an extractor that builds its
        network lazily overrides this, so that a run can find a missing network before it trains
        (:class:`~datgan_lightning.callbacks.ImageQualityMetrics` calls it in ``setup``)."""
        return self

    def train(self, mode: bool = True) -> FeatureExtractor:
        return super().train(False)  # always eval: BatchNorm statistics stay fixed

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        version = -1 if images.is_inference() else images._version  # inference tensors have no version counter
        last = FeatureExtractor._last_batch.get(self.name)
        if last is not None and last[0] is images and last[1] == version:
            features, logits = last[2], last[3]
        else:
            features, logits = self.extract(to_uint8(images))
            # keeping `images` alive is what makes the identity test exact: its memory cannot be reused
            FeatureExtractor._last_batch[self.name] = (images, version, features, logits)
        if self.output is None:
            return features, logits
        return features if self.output == "features" else logits


@functools.cache
def _inception_network(weights_path: str | None) -> nn.Module:
    """One torch-fidelity InceptionV3 per weights file, shared by every extractor (and metric) using it."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    return FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=weights_path)


class InceptionV3Features(FeatureExtractor):
    """torch-fidelity's InceptionV3: 2048-d pool3 features and 1008 unbiased logits.

    Args:
        weights_path: a local copy of torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth``
            for machines without internet; ``None`` downloads it once into torch's hub cache.
        antialias: ``False`` (default) feeds uint8 images to torch-fidelity, which resizes them to
            299 px with TF1's bilinear interpolation, the protocol of the papers' TF-Inception numbers;
            ``True`` first resizes with torch's antialiased bilinear filter (smoother, different numbers).
        output: see :class:`FeatureExtractor`.

    Grayscale images are repeated to three channels. The network is built (and its weights read or
    downloaded) on the first call, so configs holding this extractor load anywhere; extractors with
    the same ``weights_path`` share one network.
    """

    features_dim, logits_dim = 2048, 1008

    def __init__(self, weights_path: str | None = None, antialias: bool = False, output: Output | None = None) -> None:
        super().__init__(output)
        if weights_path is not None and not Path(weights_path).is_file():
            raise ConfigurationError(
                f"InceptionV3Features: weights_path={str(weights_path)!r} is not a file; download "
                f"{INCEPTION_WEIGHTS_URL} to that path, or leave weights_path unset to download it automatically."
            )
        self.weights_path, self.antialias = weights_path, antialias
        self.name = "inception-v3" + ("-antialias" if antialias else "")
        self.net: nn.Module | None = None

    def load(self) -> nn.Module:
        """torch-fidelity's network with the weights from ``weights_path`` (or the hub cache / a download).

        Raises:
            ConfigurationError: the weights cannot be read, or are not cached and cannot be downloaded
                (no network): one sentence saying how to provide them.
        """
        if self.net is None:
            try:
                self.net = _inception_network(None if self.weights_path is None else str(Path(self.weights_path).resolve()))
            except Exception as err:  # noqa: BLE001 - a URLError (offline), an unpickling or shape error (a corrupt file)
                raise ConfigurationError(self._unavailable(err)) from err
        return self.net

    def build(self) -> InceptionV3Features:
        self.load()
        return self

    def _unavailable(self, err: BaseException) -> str:
        reason = (str(getattr(err, "reason", None) or err).strip().splitlines() or [type(err).__name__])[0].rstrip(".")
        offline = "use DomainClassifierFeatures instead (offline; `datgan-train-classifier`)"
        if self.weights_path is not None:
            return (f"InceptionV3Features: weights_path={str(self.weights_path)!r} cannot be loaded ({reason}); download "
                    f"{INCEPTION_WEIGHTS_URL} again to that path, or {offline}.")
        where = "cannot be downloaded" if isinstance(err, URLError) else "cannot be loaded"
        hub = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_URL.rpartition("/")[2]
        return (f"InceptionV3Features: the InceptionV3 weights are not cached and {where} ({reason}); download "
                f"{INCEPTION_WEIGHTS_URL} on a machine with internet and set weights_path to that file (or copy it to "
                f"{hub}), or {offline}.")

    def extract(self, images: Tensor) -> tuple[Tensor, Tensor]:
        self.load().to(images.device)
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        if self.antialias:
            images = F.interpolate(images.float(), size=(299, 299), mode="bilinear", antialias=True, align_corners=False)
            images = images.round().clamp(0, 255).to(torch.uint8)
        features, logits = self.net(images)
        return features, logits


class DomainClassifierFeatures(FeatureExtractor):
    """A trained :class:`~datgan_lightning.nets.classifier.DomainClassifier` as feature extractor.

    ``name`` is ``domain-<first 8 hex digits of the weights' SHA-1>``.

    Args:
        path: a file written by :func:`~datgan_lightning.metrics.domain_classifier.save_domain_classifier`
            (``datgan-train-classifier --out PATH``).
        output: see :class:`FeatureExtractor`.
    """

    def __init__(self, path: str, output: Output | None = None) -> None:
        super().__init__(output)
        if not Path(path).is_file():
            raise ConfigurationError(
                f"DomainClassifierFeatures: path={str(path)!r} is not a file; train one with "
                "`datgan-train-classifier --data <data config> --out PATH` and pass that PATH."
            )
        saved = torch.load(path, map_location="cpu", weights_only=True)
        self.classifier = DomainClassifier(**saved["config"])
        self.classifier.load_state_dict(saved["state_dict"])
        self.classifier.requires_grad_(False)
        self.features_dim, self.logits_dim = self.classifier.num_features, self.classifier.num_classes
        self.name = "domain-" + hashlib.sha1(Path(path).read_bytes()).hexdigest()[:8]
        self.eval()

    def extract(self, images: Tensor) -> tuple[Tensor, Tensor]:
        x = images.float() / 127.5 - 1
        features = self.classifier.features(x)
        return features, self.classifier.head(features)
