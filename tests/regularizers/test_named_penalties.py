"""The named penalties R1, R2, ZeroGP, GP, LP are the right points, centre and side: on D(x) = sum(x^2),
whose input gradient 2x differs at reals, fakes and interpolates."""

import torch

from datgan_lightning.regularizers import GP, LP, R1, R2, ZeroGP


class Quadratic(torch.nn.Module):
    def forward(self, x):
        return (x**2).sum(dim=1, keepdim=True)


REAL = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # ||2x|| = 2, 4
FAKE = torch.tensor([[0.0, 0.0], [0.25, 0.0]])  # ||2x|| = 0, 0.5


def _term(regularizer, real=REAL, fake=FAKE):
    return float(regularizer(Quadratic(), real, fake, None, None))


def test_r1_is_the_zero_centred_penalty_at_reals_and_r2_at_fakes():
    assert _term(R1(weight=1.0)) == (2**2 + 4**2) / 2
    assert _term(R2(weight=1.0)) == (0**2 + 0.5**2) / 2
    assert _term(R1()) == 5.0 * 10  # default weight gamma/2 = 5


def test_zero_gp_lp_and_gp_on_interpolates_of_equal_batches():
    # real == fake: every interpolate is that point, whatever alpha: ||2x|| = 0.5 and 3
    same = torch.tensor([[0.25, 0.0], [1.5, 0.0]])
    assert _term(ZeroGP(weight=1.0), same, same) == (0.5**2 + 3**2) / 2
    assert _term(GP(weight=1.0), same, same) == ((0.5 - 1) ** 2 + (3 - 1) ** 2) / 2
    assert _term(LP(weight=1.0), same, same) == (0 + (3 - 1) ** 2) / 2  # one-sided: below 1 costs nothing
    assert _term(GP(), same, same) == 10 * ((0.5 - 1) ** 2 + (3 - 1) ** 2) / 2  # WGAN-GP's lambda 10
