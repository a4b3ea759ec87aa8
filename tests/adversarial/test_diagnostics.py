"""The perturbation-size diagnostic against deltas computed by hand, and the spectral-norm controls of issue 27."""

import copy
import math

import pytest
import torch

from datgan_lightning.adversarial import DAT, FGSM, PGD
from datgan_lightning.adversarial.control import DATNoPowerIteration, MatchedForwards
from datgan_lightning.adversarial.diagnostics import frozen_power_iteration, perturbation_size, spectral_norm_errors
from tests.conftest import LinearD, logged_rows

GREY = 2 / 255  # one 8-bit grey level on [-1, 1]


def test_perturbation_size_hand_computed():
    clean = torch.zeros(2, 1, 2, 2)
    delta = torch.tensor([[2, 0, -4, 0], [0, 0, 0, 10]], dtype=torch.float32).reshape(2, 1, 2, 2) * GREY / 2
    grad = torch.tensor([[3.0, 4.0, 0, 0], [0, 0, 0, 1.0]]).reshape(2, 1, 2, 2)
    size = perturbation_size(clean, clean + delta, (-1.0, 1.0), grad)
    # |delta| in grey levels: 1, 0, 2, 0, 0, 0, 0, 5 -> mean 8 / 8 = 1, max 5; gradient norms 5 and 1 -> mean 3
    assert size == pytest.approx({"mean_grey": 1.0, "max_grey": 5.0, "grad_norm": 3.0}, rel=1e-5)
    # on [0, 1] one grey level is 1/255, half of it on [-1, 1]: the same delta is twice as many grey levels
    assert perturbation_size(clean, clean + delta, (0.0, 1.0))["max_grey"] == pytest.approx(10.0, rel=1e-5)
    assert perturbation_size(clean, clean + delta, None) == pytest.approx({"mean_abs": GREY, "max_abs": 5 * GREY}, rel=1e-5)


W = [4.0, -0.5]
REAL = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
FAKE = torch.tensor([[0.0, 0.0], [0.0, 2.0]], dtype=torch.float64)


def test_dat_records_its_step_and_gradient_when_asked():
    """Batch variant on D(x) = w.x (tests/adversarial/test_dat.py): each sample's gradient is ±w / N = ±(2, -0.25),
    clamped to ±(1, -0.25), times eps 0.5: |delta| = (0.5, 0.125) for every sample of both batches."""
    dat = DAT(eps=0.5, data_range=(-10.0, 10.0))
    dat(LinearD(W), REAL, FAKE)
    assert dat.log_values() == {}  # record is off: nothing computed
    dat.record = True
    dat(LinearD(W), REAL, FAKE)
    unit = 20 / 255
    expected = {"mean_grey": (0.5 + 0.125) / 2 / unit, "max_grey": 0.5 / unit, "grad_norm": math.hypot(2.0, 0.25)}
    assert dat.log_values() == pytest.approx({f"{p}/{k}": v for p in ("real", "fake") for k, v in expected.items()})


def test_only_the_perturbed_positions_are_recorded():
    dat = DAT(eps=0.5, data_range=None, positions=("fake",))
    dat.record = True
    dat(LinearD(W), REAL, FAKE)
    assert set(dat.log_values()) == {"fake/mean_abs", "fake/max_abs", "fake/grad_norm"}


def test_dat_with_several_steps_records_the_whole_delta_and_the_clean_gradient():
    dat = DAT(eps=0.5, steps=2, data_range=None, positions=("real",))
    dat.record = True
    dat(LinearD(W), REAL, FAKE)  # two equal steps (test_dat.py): |delta| = 2 * (0.5, 0.125)
    assert dat.log_values() == pytest.approx({"real/mean_abs": 0.625, "real/max_abs": 1.0, "real/grad_norm": math.hypot(2.0, 0.25)})


def test_fgsm_and_pgd_record_their_sizes():
    fgsm = FGSM(eps=4 * GREY, loss="ns")
    fgsm.record = True
    fgsm(LinearD(W), REAL.clamp(-0.5, 0.5), FAKE.clamp(-0.5, 0.5))  # sign steps of 4 grey levels, inside the range
    values = fgsm.log_values()
    assert values["real/mean_grey"] == pytest.approx(4.0) and values["fake/max_grey"] == pytest.approx(4.0)
    # ns: V = -softplus(-D(x_r)) - ...; dV/dx_r = sigmoid(-D(x_r)) w. Reals (0.5, 0), (0, 0.5): D = 2, -0.25
    assert values["real/grad_norm"] == pytest.approx(
        ((torch.sigmoid(torch.tensor(-2.0)) + torch.sigmoid(torch.tensor(0.25))) / 2 * math.hypot(4.0, 0.5)).item(), rel=1e-5
    )
    pgd = PGD(eps=3 * GREY, steps=5, step_size=GREY, loss="ns", data_range=None)
    pgd.record = True
    pgd(LinearD(W), REAL, FAKE)  # 5 sign steps of 1 grey level projected to 3: every coordinate moves 3 grey levels
    assert pgd.log_values() == pytest.approx({"real/mean_abs": 3 * GREY, "real/max_abs": 3 * GREY})


def _sn_linear(seed=0):
    torch.manual_seed(seed)
    layer = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(16, 12))
    with torch.no_grad():
        layer.parametrizations.weight[0]._u.copy_(torch.nn.functional.normalize(torch.randn(12), dim=0))
    return layer


def test_spectral_norm_errors_against_the_svd():
    layer = _sn_linear()
    weight = layer.parametrizations.weight.original.detach()
    U, S, Vh = torch.linalg.svd(weight)
    sn = layer.parametrizations.weight[0]
    with torch.no_grad():
        sn._u.copy_(U[:, 0])
        sn._v.copy_(Vh[0])
    assert spectral_norm_errors(layer) == pytest.approx({"weight": 0.0}, abs=1e-5)  # exact singular vectors
    with torch.no_grad():
        sn._u.copy_((U[:, 0] + U[:, 1]) / math.sqrt(2))  # u^T W v = (s1 + 0) / sqrt(2)
    assert spectral_norm_errors(layer)["weight"] == pytest.approx(1 / math.sqrt(2) - 1, abs=1e-5)


def test_matched_forwards_advances_u_as_dat_does_without_moving_the_images():
    torch.manual_seed(0)
    real, fake = torch.randn(4, 16), torch.randn(4, 16)
    by_dat, by_control, frozen = _sn_linear(), _sn_linear(), _sn_linear()
    u0 = by_dat.parametrizations.weight[0]._u.clone()
    DAT(eps=1.0, data_range=None)(by_dat, real, fake)
    real_out, fake_out = MatchedForwards()(by_control, real, fake)
    assert torch.equal(real_out, real) and torch.equal(fake_out, fake)
    u_dat, u_control = by_dat.parametrizations.weight[0]._u, by_control.parametrizations.weight[0]._u
    assert torch.equal(u_dat, u_control) and not torch.allclose(u_dat, u0)
    real_adv, _ = DATNoPowerIteration(eps=1.0, data_range=None)(frozen, real, fake)
    assert torch.equal(frozen.parametrizations.weight[0]._u, u0) and not torch.equal(real_adv, real)


def test_frozen_power_iteration_keeps_the_rest_of_the_modes():
    net = torch.nn.Sequential(_sn_linear(), torch.nn.BatchNorm1d(12))
    u0 = net[0].parametrizations.weight[0]._u.clone()
    with frozen_power_iteration(net):
        net(torch.randn(4, 16))
        assert net[1].training and not net[0].parametrizations.weight[0].training
    assert torch.equal(net[0].parametrizations.weight[0]._u, u0) and net[0].parametrizations.weight[0].training
    net(torch.randn(4, 16))
    assert not torch.equal(net[0].parametrizations.weight[0]._u, u0)


def test_the_gan_module_logs_the_perturbation_on_logged_steps(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    from datgan_lightning.data import GaussianMixture2D
    from datgan_lightning.modules import Toy2DGAN
    from tests.conftest import fast_trainer

    logger = CSVLogger(tmp_path, name="logs")
    model = Toy2DGAN(hidden=8, n_dis=1, max_iterations=6, perturbation=DAT(eps=1.0, data_range=None))
    fast_trainer(tmp_path, logger=logger, log_every_n_steps=3).fit(model, GaussianMixture2D(batch_size=8))
    rows = logged_rows(logger, "perturbation/real/mean_abs")
    assert [float(r["generator_iterations"]) for r in rows] == [3.0, 6.0]
    assert all(0 < float(r["perturbation/fake/max_abs"]) and float(r["perturbation/real/grad_norm"]) > 0 for r in rows)
    assert model.perturbation.record is False  # recording is off between logged steps


def test_copies_and_repr_ignore_the_recording():
    dat = DAT(eps=0.5, data_range=None)
    dat.record = True
    dat(LinearD(W), REAL, FAKE)
    assert "record" not in repr(dat) and "_recorded" not in repr(dat)
    assert DAT.from_config(dat.config()).log_values() == {}
    assert copy.deepcopy(dat).log_values() == dat.log_values()


def test_matched_forwards_refuses_a_bad_count_in_one_sentence():
    with pytest.raises(ValueError, match=r"^MatchedForwards: forwards=0 is invalid; use an integer >= 1\.$"):
        MatchedForwards(forwards=0)
