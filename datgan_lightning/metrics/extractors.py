"""Feature extractors for FID, KID and IS: images in [-1, 1] -> (features, logits).

``InceptionV3Features``: torch-fidelity's InceptionV3 (the network of the TF-Inception protocol the
papers use, also what torchmetrics wraps): 2048-d pool features and the 1008-way unbiased logits.
``DomainClassifierFeatures``: a small classifier trained on the dataset (see
:func:`~datgan_lightning.metrics.domain_classifier.train_domain_classifier`): its penultimate
features and logits. Its numbers are comparable only with numbers from the same classifier file.

Each extractor has a ``name`` that goes into the logged metric names and the real-feature cache key.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datgan_lightning.errors import ConfigurationError
from datgan_lightning.nets.classifier import DomainClassifier


def to_uint8(images: Tensor) -> Tensor:
    """Images in [-1, 1] to uint8 in [0, 255] (rounded, as saving them to PNG would)."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


class FeatureExtractor(nn.Module):
    """Base: ``extractor(images in [-1, 1]) -> (features (N, num_features), logits (N, K))``; frozen, eval mode."""

    name: str = "extractor"
    num_features: int

    def train(self, mode: bool = True) -> FeatureExtractor:
        return super().train(False)  # always eval: BatchNorm statistics stay fixed


class InceptionV3Features(FeatureExtractor):
    """torch-fidelity's InceptionV3: 2048-d pool3 features and 1008 unbiased logits.

    Args:
        weights_path: a local copy of torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth``
            for machines without internet; ``None`` downloads it once into torch's hub cache.
        antialias: ``False`` (default) feeds uint8 images to torch-fidelity, which resizes them to
            299 px with TF1's bilinear interpolation, the protocol of the papers' TF-Inception numbers;
            ``True`` first resizes with torch's antialiased bilinear filter (smoother, different numbers).

    Grayscale images are repeated to three channels. The network is built (and its weights read or
    downloaded) on the first call, so configs holding this extractor load anywhere.
    """

    num_features = 2048

    def __init__(self, weights_path: str | None = None, antialias: bool = False) -> None:
        super().__init__()
        if weights_path is not None and not Path(weights_path).is_file():
            raise ConfigurationError(
                f"InceptionV3Features: weights_path={str(weights_path)!r} is not a file; download "
                "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth "
                "to that path, or leave weights_path unset to download it automatically."
            )
        self.weights_path, self.antialias = weights_path, antialias
        self.name = "inception-v3" + ("-antialias" if antialias else "")
        self.net: nn.Module | None = None

    def load(self) -> nn.Module:
        """torch-fidelity's network with the weights from ``weights_path`` (or the hub cache / a download)."""
        if self.net is None:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

            self.net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                                   feature_extractor_weights_path=self.weights_path)  # fmt: skip
        return self.net

    @torch.no_grad()
    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        self.load().to(images.device)
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        if self.antialias:
            images = F.interpolate(images.float(), size=(299, 299), mode="bilinear", antialias=True, align_corners=False)
        features, logits = self.net(to_uint8(images))
        return features, logits


class DomainClassifierFeatures(FeatureExtractor):
    """A trained :class:`~datgan_lightning.nets.classifier.DomainClassifier` as feature extractor.

    Images are quantised to 8 bits first (as for Inception), so a generator gains nothing from
    sub-quantum detail. ``name`` is ``domain-<first 8 hex digits of the weights' SHA-1>``.

    Args:
        path: a file written by :func:`~datgan_lightning.metrics.domain_classifier.save_domain_classifier`
            (``datgan-train-classifier --out PATH``).
    """

    def __init__(self, path: str) -> None:
        super().__init__()
        if not Path(path).is_file():
            raise ConfigurationError(
                f"DomainClassifierFeatures: path={str(path)!r} is not a file; train one with "
                "`datgan-train-classifier --data <data config> --out PATH` and pass that PATH."
            )
        saved = torch.load(path, map_location="cpu", weights_only=True)
        self.classifier = DomainClassifier(**saved["config"])
        self.classifier.load_state_dict(saved["state_dict"])
        self.classifier.requires_grad_(False)
        self.num_features = self.classifier.num_features
        self.name = "domain-" + hashlib.sha1(Path(path).read_bytes()).hexdigest()[:8]
        self.eval()

    @torch.no_grad()
    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        x = to_uint8(images).float() / 127.5 - 1
        features = self.classifier.features(x)
        return features, self.classifier.head(features)
