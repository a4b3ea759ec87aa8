"""GANObjective by hand: D's and G's losses on a linear D, the perturbation's place, lazy regularizers."""

import math

import pytest
import torch

from datgan_lightning.adversarial import FGSM
from datgan_lightning.objective import GANObjective
from datgan_lightning.regularizers import R1
from tests.conftest import LinearD

SOFTPLUS_1 = math.log(1 + math.e)  # softplus(1)
SOFTPLUS_M1 = math.log(1 + math.exp(-1))  # softplus(-1)


def _d():
    return LinearD([1.0, -1.0]).float()  # D(x) = x0 - x1


def test_ns_losses_by_hand():
    D, real, fake = _d(), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])  # D(real) = 1, D(fake) = -1
    loss, d_real, d_fake = GANObjective("ns").discriminator_loss(D, real, fake)
    assert (d_real.item(), d_fake.item()) == (1.0, -1.0)
    assert loss.item() == pytest.approx(2 * SOFTPLUS_M1)  # softplus(-D(real)) + softplus(D(fake))
    assert GANObjective("ns").generator_loss(D, fake).item() == pytest.approx(SOFTPLUS_1)  # softplus(-D(fake))


def test_fgsm_in_the_d_step_moves_the_batches_d_trains_on():
    # ns: V = log sigmoid(D(x_r)) + log(1 - sigmoid(D(x_f))); grad_x V has the sign of w for reals and of -w for
    # fakes, so FGSM (x - eps sign grad V) moves reals by -eps sign(w) and fakes by +eps sign(w)
    D, real, fake = _d(), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    objective = GANObjective("ns", perturbation=FGSM(eps=0.5, data_range=None))
    loss, d_real, d_fake = objective.discriminator_loss(D, real, fake)
    assert (d_real.item(), d_fake.item()) == (0.0, 0.0)  # [0.5, 0.5] and [0.5, 0.5]
    assert loss.item() == pytest.approx(2 * math.log(2))
    assert objective.generator_loss(D, fake).item() == pytest.approx(SOFTPLUS_1)  # perturb_in="discriminator": G's fakes clean


def test_generator_step_perturbation_shifts_the_fakes_and_keeps_gs_gradient():
    D, real = _d(), torch.tensor([[1.0, 0.0]])
    fake = torch.tensor([[0.0, 1.0]], requires_grad=True)
    objective = GANObjective("ns", perturbation=FGSM(eps=0.5, data_range=None), perturb_in="generator")
    loss = objective.generator_loss(D, fake, real)
    assert loss.item() == pytest.approx(math.log(2))  # D(fake + 0.5 sign(w)) = 0: softplus(0)
    loss.backward()
    assert torch.allclose(fake.grad, torch.tensor([[-0.5, 0.5]]))  # d softplus(-D)/dx = -sigmoid(-D) w = -0.5 w
    with pytest.raises(ValueError, match="real=None is invalid; pass the real batch"):
        objective.generator_loss(D, fake)


def test_lazy_regularizer_counts_on_its_steps_only_scaled_by_every():
    D, real, fake = _d(), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    objective = GANObjective("ns", regularizers=[R1(weight=2.0, every=2)])
    plain = GANObjective("ns").discriminator_loss(D, real, fake)[0].item()
    # R1 = weight * ||grad_x D(x_r)||^2 (weight is gamma/2) = 2 * ||(1, -1)||^2 = 4, times every = 2, on steps 0, 2, ...
    assert [objective.discriminator_loss(D, real, fake, step=s)[0].item() - plain for s in range(4)] == pytest.approx([8.0, 0.0, 8.0, 0.0])
