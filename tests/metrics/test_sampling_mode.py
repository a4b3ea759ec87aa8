"""Both scoring engines draw the fakes with the generator in eval mode (BatchNorm's running statistics, no
dropout) and give it back in the mode it had."""

import torch
from torch.utils.data import TensorDataset
from torchmetrics.image import InceptionScore

from datgan_lightning.metrics import ImageMetrics, ImageQuality
from datgan_lightning.metrics.extractors import FeatureExtractor


class Pixels(FeatureExtractor):
    name, features_dim, logits_dim = "pixels", 4, 4

    def extract(self, x):
        f = x.flatten(1)[:, :4].float()
        return f, f


class ModeRecordingG(torch.nn.Module):
    latent_dim = 4

    def __init__(self):
        super().__init__()
        self.modes = []

    def forward(self, z):
        self.modes.append(self.training)
        return z.tanh().view(-1, 1, 2, 2)


def test_image_quality_samples_in_eval_mode_and_restores_the_mode():
    generator = ModeRecordingG().train()
    ImageQuality(Pixels(), num_real={"test": 32}, kid_subset_size=16, batch_size=8)(
        generator, {"test": TensorDataset(torch.rand(32, 1, 2, 2) * 2 - 1)}, data_key="toy")
    assert generator.modes and not any(generator.modes) and generator.training


def test_image_metrics_samples_in_eval_mode_and_restores_the_mode():
    generator = ModeRecordingG().train()
    ImageMetrics({"is": InceptionScore(feature=Pixels("logits"), splits=2)}, splits=("test",), num_real={"test": 16}, batch_size=8)(
        generator, {"test": TensorDataset(torch.rand(16, 1, 2, 2) * 2 - 1)}, data_key="toy")
    assert generator.modes and not any(generator.modes) and generator.training
