"""Feature extractors: clear errors for missing files, lazy Inception, domain-classifier features and names."""

import pytest
import torch
from torch.utils.data import TensorDataset

from datgan_lightning.errors import ConfigurationError
from datgan_lightning.metrics import DomainClassifierFeatures, InceptionV3Features
from datgan_lightning.metrics.domain_classifier import save_domain_classifier, train_domain_classifier
from datgan_lightning.metrics.extractors import FeatureExtractor


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


def _domain_extractor(tmp_path, output=None):
    torch.manual_seed(0)
    data = TensorDataset(torch.rand(16, 3, 32, 32) * 2 - 1, torch.arange(16) % 4)
    path = save_domain_classifier(train_domain_classifier(data, num_classes=4, channels=3, epochs=1, batch_size=8), tmp_path / "c.pt")
    return DomainClassifierFeatures(str(path), output=output)


def test_output_selects_what_torchmetrics_gets_and_num_features_is_its_width(tmp_path):
    both = _domain_extractor(tmp_path)
    images = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    features, logits = both(images)
    assert both.num_features == features.shape[1] == 128
    logits_only = both.with_output("logits")
    assert logits_only.num_features == 4 and torch.equal(logits_only(images), logits)
    assert torch.equal(both.with_output("features")(images), features) and both.output is None  # a view, not a change
    assert InceptionV3Features(output="logits").num_features == 1008 and InceptionV3Features(output="features").num_features == 2048
    with pytest.raises(ConfigurationError, match=r"output='pool' is invalid; use 'features', 'logits' or null"):
        InceptionV3Features(output="pool")


def test_uint8_images_and_images_in_minus_one_one_give_the_same_features(tmp_path):
    extractor = _domain_extractor(tmp_path, output="features")
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    assert torch.equal(extractor(images), extractor(images.float() / 127.5 - 1))


class CountingPixels(FeatureExtractor):
    name, features_dim, logits_dim = "counting-pixels", 4, 4
    calls = 0

    def extract(self, images):
        CountingPixels.calls += 1
        f = images.flatten(1)[:, :4].float()
        return f, f + 1


def test_a_batch_goes_through_the_network_once_for_all_extractors_of_the_same_name():
    """FID, KID and IS hold separate extractor objects; the same batch tensor is extracted once."""
    CountingPixels.calls = 0
    fid_net, is_net = CountingPixels(output="features"), CountingPixels(output="logits")
    batch = torch.randint(0, 256, (3, 1, 2, 2), dtype=torch.uint8)
    assert torch.equal(is_net(batch), fid_net(batch) + 1) and CountingPixels.calls == 1
    same_values = batch.clone()  # another tensor (even with equal values) is extracted again
    fid_net(same_values)
    assert CountingPixels.calls == 2
    same_values.add_(1)  # changed in place: its version changed
    assert torch.equal(fid_net(same_values), (batch.flatten(1)[:, :4] + 1).float()) and CountingPixels.calls == 3


def test_extraction_works_in_inference_mode():
    with torch.inference_mode():  # e.g. a user scoring inside Lightning's predict loop
        batch = torch.randint(0, 256, (2, 1, 2, 2), dtype=torch.uint8)
        assert CountingPixels(output="logits")(batch).shape == (2, 4)
