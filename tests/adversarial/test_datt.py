"""DATT: D trained on the clean and the DAT-perturbed batch together."""

import pytest
import torch

from datgan_lightning.adversarial import DAT, DATT, PerturbationStrategy
from datgan_lightning.losses import get_loss
from tests.conftest import LinearD

W = [4.0, -0.5]
REAL = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
FAKE = torch.tensor([[0.0, 0.0], [0.0, 2.0]], dtype=torch.float64)


def test_returns_clean_then_dat_perturbed():
    real_both, fake_both = DATT(eps=0.5, data_range=None)(LinearD(W), REAL, FAKE)
    real_adv, fake_adv = DAT(eps=0.5, data_range=None)(LinearD(W), REAL, FAKE)
    assert real_both.shape == (4, 2) and fake_both.shape == (4, 2)
    assert torch.equal(real_both[:2], REAL) and torch.equal(fake_both[:2], FAKE)
    assert torch.equal(real_both[2:], real_adv) and torch.equal(fake_both[2:], fake_adv)
    assert not torch.equal(real_adv, REAL) and not real_both.requires_grad and not fake_both.requires_grad


def test_d_update_uses_both_halves():
    # D's loss is a batch mean, so its gradient is the average of the clean-batch and the DAT-batch gradients
    loss = get_loss("ns")

    def grad(real, fake):
        D = LinearD(W)
        loss.discriminator_loss(D(real)[:, 0], D(fake)[:, 0]).backward()
        return D.w.grad

    real_both, fake_both = DATT(eps=0.5, data_range=None)(LinearD(W), REAL, FAKE)
    real_adv, fake_adv = DAT(eps=0.5, data_range=None)(LinearD(W), REAL, FAKE)
    clean, adv, both = grad(REAL, FAKE), grad(real_adv, fake_adv), grad(real_both, fake_both)
    torch.testing.assert_close(both, (clean + adv) / 2)
    assert not torch.allclose(both, clean) and not torch.allclose(both, adv)


def test_unperturbed_position_is_the_clean_batch_twice():
    real_both, fake_both = DATT(eps=0.5, data_range=None, positions=("real",))(LinearD(W), REAL, FAKE)
    assert torch.equal(fake_both, torch.cat([FAKE, FAKE])) and not torch.equal(real_both[2:], REAL)


@pytest.mark.parametrize("kwargs", [{}, {"eps": 0.6, "steps": 2, "variant": "sample", "positions": ["fake"], "loss": "ns", "data_range": None}])
def test_config_round_trip(kwargs):
    strategy = DATT(**kwargs)
    config = strategy.config()
    assert config["class_path"] == "datgan_lightning.adversarial.datt.DATT"
    rebuilt = PerturbationStrategy.from_config(config)
    assert type(rebuilt) is DATT and rebuilt.config() == config
