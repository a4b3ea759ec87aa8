"""AR and RFM against values computed by hand on a linear D and a 2-layer D with known weights."""

import math

import pytest
import torch

from datgan_lightning.regularizers import AR, RFM
from tests.conftest import LinearD

W = [3.0, 4.0]  # ||w|| = 5
REAL = torch.tensor([[0.1, 0.2], [0.0, -0.3], [0.2, 0.1], [-0.1, 0.0]], dtype=torch.float64)
FAKE = torch.tensor([[0.3, -0.2], [0.1, 0.1], [0.0, 0.0], [-0.2, 0.2]], dtype=torch.float64)
N, EPS, LAM = 4, 0.01, 2.0


class TwoLayerD(torch.nn.Module):
    """phi(x) = relu(W1 x + 10) = W1 x + 10 for |x| < 1; D(x) = v . phi(x) - 10 = x_2 (W1^T v = (0, 1))."""

    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(2, 3).double()
        self.out = torch.nn.Linear(3, 1).double()
        with torch.no_grad():
            self.hidden.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]))
            self.hidden.bias.fill_(10.0)
            self.out.weight.copy_(torch.tensor([[1.0, 1.0, -1.0]]))
            self.out.bias.fill_(-10.0)

    def features(self, x):
        return torch.relu(self.hidden(x))

    def forward(self, x):
        return self.out(self.features(x))


def _term(reg, D, real=REAL, fake=FAKE):
    return reg(D, real, fake, None, None)


# Linear D, ns loss: D's loss on a real is softplus(-D), gradient -sigmoid(-D) w, so g_hat = -w/||w|| and
# D(x') - D(x) = -eps ||w||; on a fake softplus(D), g_hat = +w/||w||, change +eps ||w||. Every sample: |change| = eps*5.
@pytest.mark.parametrize("loss", ["ns", "wasserstein", "lsgan"])  # b = 0.5: lsgan's slope is non-zero at every logit
def test_ar_linear_d_mean_squared(loss):
    reg = AR(weight=LAM, eps=EPS, reduction="mean_squared", loss=loss)
    torch.testing.assert_close(_term(reg, LinearD(W, b=0.5)), torch.tensor(LAM * 2 * (EPS * 5) ** 2, dtype=torch.float64))


def test_ar_linear_d_norm_of_the_whole_batch():
    # authors' reduction: ||change over the batch||_2 per position = sqrt(N) * eps * 5, summed over real and fake
    reg = AR(weight=LAM, eps=EPS, loss="ns")
    torch.testing.assert_close(_term(reg, LinearD(W)), torch.tensor(LAM * 2 * math.sqrt(N) * EPS * 5, dtype=torch.float64))


def test_ar_step_raises_d_loss():
    # the step goes where D's loss grows: D(x_r') < D(x_r) on reals, D(x_f') > D(x_f) on fakes
    reg, D = AR(eps=EPS, loss="ns"), LinearD(W)
    _, real_adv = reg.attack(D, REAL, "real", keep_graph=False)
    _, fake_adv = reg.attack(D, FAKE, "fake", keep_graph=False)
    w = torch.tensor(W, dtype=torch.float64)
    torch.testing.assert_close(real_adv, REAL - EPS * w / 5)
    torch.testing.assert_close(fake_adv, FAKE + EPS * w / 5)
    assert not real_adv.requires_grad


def test_ar_single_position():
    reg = AR(weight=LAM, eps=EPS, positions="fake", reduction="mean_squared", loss="ns")
    torch.testing.assert_close(_term(reg, LinearD(W)), torch.tensor(LAM * (EPS * 5) ** 2, dtype=torch.float64))


def test_ar_hinge_beyond_the_margin_adds_nothing():
    # D(x_r) = 3 x1 + 4 x2 + 5 > 1 for these reals: g1 = min(0, t - 1) has zero slope, so g = 0 and x' = x
    reg = AR(weight=LAM, eps=EPS, positions=("real",), loss="hinge")
    term = _term(reg, LinearD(W, b=5.0))
    assert term.item() == 0.0
    term.backward()  # the norm of a zero change has a finite (zero) gradient


def test_rfm_two_layer_d_hand_computed():
    # g_hat = -(0, 1) on reals, +(0, 1) on fakes; phi(x') - phi(x) = eps W1 g_hat = -/+ eps (0, 2, 1): squared norm 5 eps^2
    reg = RFM(weight=LAM, eps=EPS, reduction="mean_squared", loss="ns")
    torch.testing.assert_close(_term(reg, TwoLayerD()), torch.tensor(LAM * 2 * 5 * EPS**2, dtype=torch.float64))
    reg = RFM(weight=LAM, eps=EPS, loss="ns")
    torch.testing.assert_close(_term(reg, TwoLayerD()), torch.tensor(LAM * 2 * math.sqrt(N * 5) * EPS, dtype=torch.float64))


def test_ar_two_layer_d_hand_computed():
    reg = AR(weight=LAM, eps=EPS, reduction="mean_squared", loss="ns")  # D(x) = x_2: change -/+ eps
    torch.testing.assert_close(_term(reg, TwoLayerD()), torch.tensor(LAM * 2 * EPS**2, dtype=torch.float64))


def test_rfm_gradient_reaches_d_parameters():
    # mean_squared RFM = lam * 2 * eps^2 ||W1 u||^2 with u = (0, 1): d/dW1 = lam * 2 * eps^2 * 2 (W1 u) u^T, up to
    # the change of u with W1 (u = W1^T v / ||W1^T v|| moves with W1, but the step is detached: no gradient through it)
    D = TwoLayerD()
    _term(RFM(weight=LAM, eps=EPS, reduction="mean_squared", loss="ns"), D).backward()
    expected = torch.zeros(3, 2, dtype=torch.float64)
    expected[:, 1] = LAM * 2 * EPS**2 * 2 * torch.tensor([0.0, 2.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(D.hidden.weight.grad, expected)
    assert D.out.weight.grad is None or D.out.weight.grad.abs().max() == 0


def test_ar_gradient_reaches_d_parameters():
    # linear D: change = -/+ eps w.u with the detached u = w/||w||: d/dw lam*eps^2*(w.u)^2 per position = 2 lam eps^2 (w.u) u
    D = LinearD(W)
    _term(AR(weight=LAM, eps=EPS, reduction="mean_squared", loss="ns"), D).backward()
    u = torch.tensor(W, dtype=torch.float64) / 5
    torch.testing.assert_close(D.w.grad, 2 * (2 * LAM * EPS**2 * 5 * u))


def test_rfm_needs_features():
    with pytest.raises(ValueError, match=r"^RFM needs D's penultimate features, but Linear has no features\(x\) method; .*use AR\.$"):
        _term(RFM(loss="ns"), torch.nn.Linear(2, 1).double())


@pytest.mark.parametrize("cls", [AR, RFM])
def test_missing_loss_is_a_clear_error(cls):
    with pytest.raises(ValueError, match=rf"^{cls.__name__} needs a GAN loss: pass loss='ns'"):
        _term(cls(), TwoLayerD())


def test_eps_zero_is_zero():
    assert _term(RFM(eps=0.0, loss="ns"), TwoLayerD()).item() == 0.0
