"""Each objective pinned to values computed by hand (softplus(0) = log 2, softplus(1) = 1.313262)."""

import math

import pytest
import torch

from datgan_lightning.losses import LOSSES, GANLoss, get_loss

T = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)
SP1 = math.log1p(math.e)  # softplus(1)
SPm1 = math.log1p(math.exp(-1))  # softplus(-1)
SP2, SPm2 = math.log1p(math.exp(2)), math.log1p(math.exp(-2))

CASES = {
    #           g1(T)                         g2(T)                         G loss on T
    "ns": ([-SP1, -math.log(2), -SPm2], [-SPm1, -math.log(2), -SP2], (SP1 + math.log(2) + SPm2) / 3),
    "minimax": ([-SP1, -math.log(2), -SPm2], [-SPm1, -math.log(2), -SP2], -(SPm1 + math.log(2) + SP2) / 3),
    "hinge": ([-2.0, -1.0, 0.0], [0.0, -1.0, -3.0], -1 / 3),
    "wasserstein": ([-1.0, 0.0, 2.0], [1.0, 0.0, -2.0], -1 / 3),
    "lsgan": ([-4.0, -1.0, -1.0], [-1.0, 0.0, -4.0], (4 + 1 + 1) / 3),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_g1_g2_and_generator_loss(name):
    g1, g2, g_loss = CASES[name]
    loss = get_loss(name)
    torch.testing.assert_close(loss.g1(T), torch.tensor(g1, dtype=torch.float64))
    torch.testing.assert_close(loss.g2(T), torch.tensor(g2, dtype=torch.float64))
    assert loss.generator_loss(T).item() == pytest.approx(g_loss)


@pytest.mark.parametrize("name", sorted(CASES))
def test_discriminator_loss_is_negated_objective(name):
    g1, g2, _ = CASES[name]
    real, fake = T, T.flip(0)
    expected = -(sum(g1) / 3 + sum(reversed(g2)) / 3)
    assert get_loss(name).discriminator_loss(real, fake).item() == pytest.approx(expected)


def test_hinge_discriminator_loss_hand_value():
    # reals 2, 0.5 -> min(0, t-1) = 0, -0.5; fakes -2, 0 -> min(0, -t-1) = 0, -1; D loss = 0.25 + 0.5
    loss = get_loss("hinge").discriminator_loss(torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0]))
    assert loss.item() == pytest.approx(0.75)


def test_registry_has_the_five_objectives():
    assert set(LOSSES) == {"ns", "minimax", "hinge", "wasserstein", "lsgan"}
    assert all(isinstance(get_loss(n), GANLoss) for n in LOSSES)


def test_unknown_loss_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown loss 'bce'.*hinge, lsgan, minimax, ns, wasserstein"):
        get_loss("bce")
