import pytest
import torch

from datgan_lightning.adversarial import FGSM, PGD
from tests.conftest import LinearD

W = [4.0, -0.5]


def test_fgsm_hand_computed_on_linear_d():
    # ns: dV/dx_r = g1'(D) w with g1' > 0 -> step -eps*sign(w); dV/dx_f = g2'(D) w with g2' < 0 -> +eps*sign(w)
    real = torch.zeros(3, 2, dtype=torch.float64)
    fake = torch.full((3, 2), 0.5, dtype=torch.float64)
    real_adv, fake_adv = FGSM(eps=0.1, loss="ns")(LinearD(W), real, fake)
    torch.testing.assert_close(real_adv, real + torch.tensor([-0.1, 0.1], dtype=torch.float64))
    torch.testing.assert_close(fake_adv, fake + torch.tensor([0.1, -0.1], dtype=torch.float64))


def _mlp():
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))


@pytest.mark.parametrize("make", [lambda: FGSM(eps=0.2, loss="hinge"), lambda: PGD(eps=0.2, steps=7, step_size=0.05, positions=("real", "fake"), loss="hinge")])
def test_stays_in_eps_ball_and_data_range(make):
    real, fake = torch.rand(32, 6) * 2 - 1, torch.rand(32, 6) * 2 - 1
    real_adv, fake_adv = make()(_mlp(), real, fake)
    for clean, adv in ((real, real_adv), (fake, fake_adv)):
        assert (adv - clean).abs().max() <= 0.2 + 1e-6
        assert adv.min() >= -1 and adv.max() <= 1
        assert not torch.equal(adv, clean)


def test_pgd_reaches_the_ball_boundary_on_linear_d():
    # every step has the same sign on a linear D: 7 steps of 0.05 are projected back to eps = 0.2
    real = torch.zeros(2, 2, dtype=torch.float64)
    real_adv, fake_adv = PGD(eps=0.2, steps=7, step_size=0.05, positions=("real",), loss="ns", data_range=None)(
        LinearD(W), real, real.clone()
    )
    torch.testing.assert_close(real_adv, torch.tensor([[-0.2, 0.2], [-0.2, 0.2]], dtype=torch.float64))
    assert torch.equal(fake_adv, real)


def test_pgd_defaults_are_rob_gans_attack():
    """METHODS.md, Rob-GAN: reals only, 5 steps of 0.0078, eps 0.03125, D in eval mode, no random start, [-1, 1]."""
    pgd = PGD()
    assert (pgd.positions, pgd.steps, pgd.step_size, pgd.eps) == (("real",), 5, 0.0078, 0.03125)
    assert pgd.eval_mode is True and pgd.data_range == (-1.0, 1.0)
    D = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1)).train()
    modes = []
    D[1].register_forward_hook(lambda m, i, o: modes.append(m.training))
    real, fake = torch.rand(4, 2) * 2 - 1, torch.rand(4, 2) * 2 - 1
    real_adv, fake_adv = PGD(loss="ns")(D, real, fake)
    assert modes == [False] * 5 and D.training and torch.equal(fake_adv, fake) and not torch.equal(real_adv, real)


def test_pgd_eval_mode_is_restored():
    D = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1))
    D.train()
    seen = []
    D[1].register_forward_hook(lambda m, i, o: seen.append(m.training))
    PGD(eps=0.1, steps=2, step_size=0.05, loss="ns", eval_mode=True)(D, torch.randn(4, 2), torch.randn(4, 2))
    assert seen and not any(seen) and D.training


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: FGSM(eps=-1), r"FGSM: eps=-1 is negative"),
        (lambda: PGD(steps=0), r"PGD: steps=0 is invalid"),
        (lambda: PGD(step_size=-0.1), r"PGD: step_size=-0.1 is negative"),
        (lambda: FGSM(positions=("everything",)), r"positions=\('everything',\) is invalid"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()
