"""Gradient penalties against closed forms: a linear D has input gradient w everywhere, D(x) = sum(x^2) has 2x."""

import math

import pytest
import torch

from datgan_lightning.regularizers import GP, LP, R1, R2, GradientPenalty, ZeroGP
from tests.conftest import LinearD

W = [3.0, 4.0]  # ||w|| = 5
REAL = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]], dtype=torch.float64)
FAKE = torch.tensor([[0.5, 0.5], [2.0, -1.0], [0.0, 0.0]], dtype=torch.float64)


class SquareD(torch.nn.Module):
    """D(x) = sum(x^2) per sample: input gradient 2x."""

    def forward(self, x):
        return (x**2).flatten(1).sum(1, keepdim=True)


def _term(reg, D, real=REAL, fake=FAKE):
    return reg(D, real, fake, None, None)


@pytest.mark.parametrize(
    "reg, w, expected",
    [
        (GP(weight=2.0), W, 2.0 * (5 - 1) ** 2),
        (GP(weight=2.0), [0.3, 0.4], 2.0 * (0.5 - 1) ** 2),  # two-sided: a norm below 1 is penalised too
        (LP(weight=2.0), W, 2.0 * (5 - 1) ** 2),
        (LP(weight=2.0), [0.3, 0.4], 0.0),  # one-sided: below 1 costs nothing
        (ZeroGP(weight=2.0), W, 2.0 * 25),
        (ZeroGP(weight=2.0, at="real"), W, 2.0 * 25),
        (R1(weight=0.5), W, 0.5 * 25),
        (R2(weight=0.5), W, 0.5 * 25),
        (GradientPenalty(weight=1.0, at="fake", center=2.0), W, (5 - 2) ** 2),
        (GradientPenalty(weight=1.0, center=7.0, one_sided=True), W, 0.0),
    ],
)
def test_linear_d_closed_forms(reg, w, expected):
    torch.testing.assert_close(_term(reg, LinearD(w)), torch.tensor(expected, dtype=torch.float64))


def test_nonlinear_d_per_sample_norm_and_batch_mean():
    # real == fake, so every interpolate is x whatever alpha is; grad = 2x, norms 2*(1, 2, 5) = (2, 4, 10)
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    gp = _term(GP(weight=10.0), SquareD(), x, x.clone())
    torch.testing.assert_close(gp, torch.tensor(10.0 * (1 + 9 + 81) / 3, dtype=torch.float64))
    lp = _term(LP(weight=10.0), SquareD(), x, x.clone())
    torch.testing.assert_close(lp, gp)  # every norm is >= 1
    r1 = _term(R1(weight=1.0), SquareD(), x, torch.zeros_like(x))
    torch.testing.assert_close(r1, torch.tensor((4 + 16 + 100) / 3, dtype=torch.float64))


def test_norm_is_over_all_non_batch_dims():
    x = torch.zeros(2, 3, 4, 5, dtype=torch.float64)
    x[0, 1, 2, 3], x[1, 0, 0, 0], x[1, 2, 3, 4] = 2.0, 1.0, 1.0  # 2x has norms 4 and 2*sqrt(2)
    gp = _term(GP(weight=1.0, at="real"), SquareD(), x, x)
    torch.testing.assert_close(gp, torch.tensor(((4 - 1) ** 2 + (2 * math.sqrt(2) - 1) ** 2) / 2, dtype=torch.float64))


def test_interpolates_draw_one_alpha_per_sample():
    real, fake = torch.zeros(64, 3, 2, 2), torch.ones(64, 3, 2, 2)
    x_hat = GP().points(real, fake)  # = 1 - alpha_i in every entry of sample i
    per_sample = x_hat.flatten(1)
    assert torch.equal(per_sample, per_sample[:, :1].expand_as(per_sample))
    assert per_sample.min() >= 0 and per_sample.max() <= 1 and per_sample[:, 0].unique().numel() == 64


def test_interpolates_need_equal_shapes():
    with pytest.raises(ValueError, match=r"^GP: at='interpolates' needs real and fake batches of the same shape; got \(3, 2\) and \(2, 2\)\.$"):
        _term(GP(), LinearD(W), REAL, FAKE[:2])


@pytest.mark.parametrize("reg", [R1(weight=0.5), ZeroGP(weight=0.5, at="fake"), ZeroGP(weight=0.5)])
def test_zero_gp_parameter_gradient_is_2_lambda_w(reg):
    # R1 = lambda ||w||^2: its gradient reaches D's weights only through the second-order path
    D = LinearD(W)
    _term(reg, D).backward()
    torch.testing.assert_close(D.w.grad, 2 * 0.5 * torch.tensor(W, dtype=torch.float64))
    assert D.b.grad is None or D.b.grad == 0  # the bias does not touch the input gradient


def test_gp_parameter_gradient_closed_form():
    # d/dw lambda (||w|| - 1)^2 = 2 lambda (||w|| - 1) w / ||w||
    D = LinearD(W)
    _term(GP(weight=3.0), D).backward()
    torch.testing.assert_close(D.w.grad, 2 * 3.0 * (5 - 1) * torch.tensor(W, dtype=torch.float64) / 5)


def test_zero_gradient_gives_zero_penalty_gradient_not_nan():
    D = LinearD([0.0, 0.0])
    for reg in (GP(), LP(), R1()):
        D.zero_grad()
        _term(reg, D).backward()
        assert torch.isfinite(D.w.grad).all()


def test_inputs_are_left_alone():
    real, fake = REAL.clone(), FAKE.clone()
    for reg in (GP(), R1(), R2()):
        _term(reg, LinearD(W), real, fake)
    assert torch.equal(real, REAL) and torch.equal(fake, FAKE) and not real.requires_grad and real.grad is None
