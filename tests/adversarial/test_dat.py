"""DAT against perturbations computed by hand on a linear D (input gradient = w everywhere)."""

import pytest
import torch

from datgan_lightning.adversarial import DAT
from datgan_lightning.losses import get_loss
from tests.conftest import LinearD

W = [4.0, -0.5]
# D(real) = 4, -0.5 (mean 1.75); D(fake) = 0, -1 (mean -0.5)
REAL = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
FAKE = torch.tensor([[0.0, 0.0], [0.0, 2.0]], dtype=torch.float64)


def test_batch_variant_hand_computed():
    # reals: |mean D(x_r) - (-0.5)|, positive -> grad = w / 2 = (2, -0.25) -> clamp (1, -0.25)
    # fakes: |mean D(x_f) - 1.75|, negative -> grad = -w / 2 = (-2, 0.25) -> clamp (-1, 0.25)
    real_adv, fake_adv = DAT(eps=0.5, data_range=None)(LinearD(W), REAL, FAKE)
    torch.testing.assert_close(real_adv, torch.tensor([[0.5, 0.125], [-0.5, 1.125]], dtype=torch.float64))
    torch.testing.assert_close(fake_adv, torch.tensor([[0.5, -0.125], [0.5, 1.875]], dtype=torch.float64))


def test_batch_variant_clamps_to_data_range():
    real_adv, fake_adv = DAT(eps=0.5, data_range=(-1.0, 1.0))(LinearD(W), REAL, FAKE)
    torch.testing.assert_close(real_adv, torch.tensor([[0.5, 0.125], [-0.5, 1.0]], dtype=torch.float64))
    torch.testing.assert_close(fake_adv, torch.tensor([[0.5, -0.125], [0.5, 1.0]], dtype=torch.float64))


def test_batch_variant_two_steps_keep_clean_targets():
    # after step 1, mean D(x_r') = 1.75 - 0.5 * (4 * 1 + 0.5 * 0.25) = -0.3125 > -0.5: same sign, same step again
    real_adv, _ = DAT(eps=0.5, steps=2, data_range=None, positions=("real",))(LinearD(W), REAL, FAKE)
    torch.testing.assert_close(real_adv, REAL - 2 * 0.5 * torch.tensor([1.0, -0.25], dtype=torch.float64))


def test_two_steps_on_both_batches_keep_the_clean_batchs_targets():
    """Both batches move, so targets recomputed at step 2 would differ from the clean ones.
    Step 1 (as above): mean D(x_r') = 1.75 - 0.5 * 4.125 = -0.3125, mean D(x_f') = -0.5 + 2.0625 = 1.5625.
    Step 2 with the clean targets (-0.5 for reals, 1.75 for fakes): -0.3125 > -0.5 and 1.5625 < 1.75, so
    each batch takes the same step again. Recomputed targets (1.5625 for reals, -0.3125 for fakes) would
    flip both signs and step back to the clean batches."""
    step = 0.5 * torch.tensor([1.0, -0.25], dtype=torch.float64)
    real_adv, fake_adv = DAT(eps=0.5, steps=2, data_range=None)(LinearD(W), REAL, FAKE)
    torch.testing.assert_close(real_adv, REAL - 2 * step)
    torch.testing.assert_close(fake_adv, FAKE + 2 * step)


def test_sample_variant_hand_computed():
    # ns: g1' = sigmoid(-t) > 0, g2' = -sigmoid(t) < 0. Targets: mean g1(D(x_f)) = -1.0032, mean g2(D(x_r)) = -2.2461.
    # g1(4) = -0.018, g1(-0.5) = -0.974: both above -1.0032 -> grad_i = +sigmoid(-D_i) w
    # g2(0) = -0.693, g2(-1) = -0.313: both above -2.2461 -> grad_i = -sigmoid(D_i) w
    eps = 0.3
    w = torch.tensor(W, dtype=torch.float64)
    real_adv, fake_adv = DAT(eps=eps, variant="sample", loss="ns", data_range=None)(LinearD(W), REAL, FAKE)
    d_real, d_fake = torch.tensor([4.0, -0.5], dtype=torch.float64), torch.tensor([0.0, -1.0], dtype=torch.float64)
    torch.testing.assert_close(real_adv, REAL - eps * torch.sigmoid(-d_real)[:, None] * w)
    torch.testing.assert_close(fake_adv, FAKE + eps * torch.sigmoid(d_fake)[:, None] * w)


def test_sample_variant_per_sample_sign():
    # a real sample that D ranks below the fakes is pushed the other way (gradient reward side)
    real = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)  # D = 4, -4
    fake = torch.tensor([[0.0, 0.0], [0.0, 0.0]], dtype=torch.float64)  # D = 0, target mean g1 = -log 2
    real_adv, _ = DAT(eps=1.0, variant="sample", loss="ns", data_range=None, positions="real")(LinearD(W), real, fake)
    delta = real_adv - real
    assert delta[0, 0] < 0 and delta[1, 0] > 0


@pytest.mark.parametrize("positions", [("real",), ("fake",), ("real", "fake")])
def test_positions_leave_the_others_untouched(positions):
    real_adv, fake_adv = DAT(eps=0.5, data_range=None, positions=positions)(LinearD(W), REAL, FAKE)
    assert torch.equal(real_adv, REAL) != ("real" in positions)
    assert torch.equal(fake_adv, FAKE) != ("fake" in positions)
    assert not real_adv.requires_grad and not fake_adv.requires_grad


@pytest.mark.parametrize("loss_name", ["ns", "hinge", "wasserstein"])
def test_first_order_identity_penalty_and_reward(loss_name):
    """g1(D(x + delta)) = g1(D(x)) - s * eps * g1'^2 * ||grad D||^2 + O(eps^2), s = +1 if D ranks x right."""
    torch.manual_seed(1)
    D = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).double()
    real, fake = torch.randn(64, 2, dtype=torch.float64), torch.randn(64, 2, dtype=torch.float64)
    loss, eps = get_loss(loss_name), 1e-4
    real_adv, _ = DAT(eps=eps, variant="sample", loss=loss_name, data_range=None, positions="real")(D, real, fake)

    x = real.clone().requires_grad_(True)
    t = D(x)[:, 0]
    g1 = loss.g1(t)
    (g1_prime,) = torch.autograd.grad(g1.sum(), t, retain_graph=True)
    (grad_d,) = torch.autograd.grad(t.sum(), x)
    ranked_right = (g1 - loss.g1(D(fake)[:, 0]).mean()).detach() > 0
    s = ranked_right.double() * 2 - 1
    predicted = g1.detach() - s * eps * g1_prime**2 * (grad_d**2).sum(1)
    actual = loss.g1(D(real_adv)[:, 0]).detach()
    change = actual - g1.detach()
    assert ranked_right.any() and (~ranked_right).any()  # both regimes are exercised
    keep = g1_prime.abs() > 1e-3  # hinge: zero slope where the sample is beyond the margin
    torch.testing.assert_close(actual[keep], predicted[keep], rtol=0, atol=1e-3 * eps)
    assert (change[keep & ranked_right] < 0).all()  # penalty: loss of D gets worse
    assert (change[keep & ~ranked_right] > 0).all()  # reward


def test_joint_and_separate_forwards_agree():
    D = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)).double()
    real, fake = torch.randn(16, 2, dtype=torch.float64), torch.randn(16, 2, dtype=torch.float64)
    joint = DAT(eps=1.0, data_range=None, joint_forward=True)(D, real, fake)
    separate = DAT(eps=1.0, data_range=None, joint_forward=False)(D, real, fake)
    for a, b in zip(joint, separate):
        torch.testing.assert_close(a, b)


def test_attack_builds_no_parameter_gradients():
    D = LinearD(W)
    DAT(eps=0.5)(D, REAL, FAKE)
    assert all(p.grad is None for p in D.parameters())


def test_eps_zero_is_identity_without_forward():
    class Exploding(torch.nn.Module):
        def forward(self, x):
            raise AssertionError("D must not run when eps=0")

    real_adv, fake_adv = DAT(eps=0.0)(Exploding(), REAL, FAKE)
    assert torch.equal(real_adv, REAL) and torch.equal(fake_adv, FAKE)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"eps": -0.1}, r"eps=-0.1 is negative; use eps >= 0"),
        ({"steps": 0}, r"steps=0 is invalid; use an integer >= 1"),
        ({"variant": "pixel"}, r"variant='pixel' is unknown; use one of \('batch', 'sample'\)"),
        ({"positions": ("real", "generator")}, r"positions=\('real', 'generator'\) is invalid"),
        ({"positions": ()}, r"positions=\(\) is invalid"),
        ({"data_range": (1.0, -1.0)}, r"data_range=\(1.0, -1.0\) must be \(low, high\)"),
        ({"loss": "nope"}, r"Unknown loss 'nope'"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DAT(**kwargs)


def test_sample_variant_without_loss_says_how_to_fix():
    with pytest.raises(ValueError, match=r"needs a GAN loss.*pass loss='ns'"):
        DAT(variant="sample")(LinearD(W), REAL, FAKE)
