"""Regularizers and attacks through D∘T (GAN(augmentations=...)), whose T is random per call."""

import pytest
import torch

from datgan_lightning.adversarial import PGD
from datgan_lightning.augmentations import Augmentation, AugmentedDiscriminator
from datgan_lightning.regularizers import AR, RFM


class Noise(Augmentation):
    """A fresh random shift per call, like DiffAugment's per-sample draws."""

    def forward(self, images):
        return images + torch.randn_like(images)


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh())
        self.head = torch.nn.Linear(8, 1)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


@pytest.mark.parametrize("regularizer", [AR, RFM])
def test_ar_and_rfm_measure_the_eps_step_not_two_augmentations(regularizer):
    """With eps = 0 there is no attack, so the change is 0: also through D∘T, whose T is drawn once per
    batch and compared through the plain D (two independent draws would give a large 'change')."""
    D = MLP()
    view = AugmentedDiscriminator(D, [Noise()])
    real, fake = torch.randn(16, 4), torch.randn(16, 4)
    term = regularizer(weight=1.0, eps=0.0, loss="ns")(view, real, fake, None, None)
    assert float(term) == 0.0
    small = regularizer(weight=1.0, eps=1e-3, loss="ns")(view, real, fake, None, None)
    assert 0 < float(small) < 1e-2


def test_the_view_saves_and_restores_ds_mode():
    D = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1)).eval()
    view = AugmentedDiscriminator(D, [Noise()])
    assert not view.training
    PGD(eps=0.1, loss="ns")(view, torch.randn(4, 2), torch.randn(4, 2))
    assert not D.training
