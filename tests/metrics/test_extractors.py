"""Feature extractors: clear errors for missing files, lazy Inception, domain-classifier features and names."""

import pytest
import torch
from torch.utils.data import TensorDataset

from datgan_lightning.errors import ConfigurationError
from datgan_lightning.metrics import DomainClassifierFeatures, InceptionV3Features
from datgan_lightning.metrics.domain_classifier import save_domain_classifier, train_domain_classifier


def test_inception_weights_path_that_is_not_a_file_is_named(tmp_path):
    with pytest.raises(ConfigurationError, match=r"weights_path='.*missing.pth' is not a file; download https://"):
        InceptionV3Features(weights_path=str(tmp_path / "missing.pth"))


def test_inception_is_built_on_first_use_not_at_construction():
    extractor = InceptionV3Features(antialias=True)
    assert extractor.net is None and extractor.name == "inception-v3-antialias" and extractor.num_features == 2048


def test_domain_classifier_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigurationError, match=r"path='.*nope.pt' is not a file; train one with `datgan-train-classifier"):
        DomainClassifierFeatures(str(tmp_path / "nope.pt"))


def test_domain_classifier_features_quantise_and_name_by_weights(tmp_path):
    torch.manual_seed(0)
    data = TensorDataset(torch.rand(16, 1, 32, 32) * 2 - 1, torch.arange(16) % 4)
    path = save_domain_classifier(train_domain_classifier(data, num_classes=4, channels=1, epochs=1, batch_size=8), tmp_path / "c.pt")
    extractor = DomainClassifierFeatures(str(path))
    images = torch.randint(0, 256, (3, 1, 32, 32)) / 127.5 - 1  # exactly on the 8-bit levels
    features, logits = extractor(images)
    assert features.shape == (3, extractor.num_features) and logits.shape == (3, 4)
    assert torch.equal(extractor(images + 0.3 / 255)[0], features)  # less than half a level: the same uint8 image
    assert not torch.equal(extractor(images + 2 / 255)[0], features)
    assert extractor.name.startswith("domain-") and len(extractor.name) == len("domain-") + 8
    assert DomainClassifierFeatures(str(path)).name == extractor.name
