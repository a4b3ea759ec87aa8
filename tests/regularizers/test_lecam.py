"""LeCam against hand-computed values: known logits, known anchors, the debiased EMA, the warm-up."""

import pytest
import torch

from datgan_lightning.regularizers import LeCam, Regularizer
from tests.conftest import LinearD


def test_term_on_known_logits_and_anchors():
    lecam = LeCam(weight=0.5, decay=0.9)
    lecam(None, None, None, torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0]))  # anchors: alpha_R = 2, alpha_F = -1
    assert [float(a) for a in lecam.anchors] == pytest.approx([2.0, -1.0])
    d_real, d_fake = torch.tensor([4.0, -3.0, 0.0]), torch.tensor([1.0, 5.0, 2.0])  # means 1/3 and 8/3
    term = lecam(None, None, None, d_real, d_fake)
    # EMA first (zero-debiased): e_R = 0.9*0.1*2 + 0.1/3, alpha_R = e_R / (1 - 0.81); likewise alpha_F
    a_r = (0.9 * 0.1 * 2 + 0.1 / 3) / 0.19
    a_f = (0.9 * 0.1 * -1 + 0.1 * 8 / 3) / 0.19
    expected = 0.5 * (sum(max(d - a_f, 0) ** 2 for d in (4.0, -3.0, 0.0)) / 3 + sum(max(a_r - d, 0) ** 2 for d in (1.0, 5.0, 2.0)) / 3)
    assert [float(a) for a in lecam.anchors] == pytest.approx([a_r, a_f])
    assert float(term) == pytest.approx(expected)


def test_defaults_and_the_first_call_anchors_at_the_batch_means():
    lecam = LeCam()
    assert (lecam.weight, lecam.decay, lecam.start, lecam.every) == (0.3, 0.99, 0, 1)
    term = lecam(None, None, None, torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0]))  # alpha_R = 1, alpha_F = 0
    assert float(term) == pytest.approx(0.3 * ((4 + 0) / 2 + (4 + 0) / 2))


def test_gradient_reaches_d_through_the_logits_only():
    D = LinearD([1.0, -1.0])
    real = torch.tensor([[2.0, 0.0]], dtype=torch.float64)
    fake = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    lecam = LeCam(weight=1.0)
    lecam(D, real, fake)  # anchors 2 and 0
    D.w.data = torch.tensor([2.0, -1.0], dtype=torch.float64)  # D(real) = 4, D(fake) = 0
    term = lecam(D, real, fake)  # alpha_F = (0.99*0.01*0 + 0.01*0)/... = 0: relu(4 - 0)^2; alpha_R ~ (2*0.0099 + 0.04)/0.0199
    a_r = (0.99 * 0.01 * 2 + 0.01 * 4) / (1 - 0.99**2)
    assert float(term.detach()) == pytest.approx(16 + a_r**2)
    term.backward()
    torch.testing.assert_close(D.w.grad, torch.tensor([2 * 4 * 2.0, 0.0], dtype=torch.float64))  # anchors detached


def test_warm_up_tracks_batch_means_then_switches_on():
    lecam = LeCam(weight=1.0, start=2)
    assert float(lecam(None, None, None, torch.tensor([5.0]), torch.tensor([-5.0]))) == 0.0
    assert float(lecam(None, None, None, torch.tensor([3.0]), torch.tensor([-3.0]))) == 0.0
    assert [float(a) for a in lecam.anchors] == [3.0, -3.0]  # restarted: this batch's means
    term = lecam(None, None, None, torch.tensor([1.0]), torch.tensor([1.0]))
    a_r, a_f = (0.0099 * 3 + 0.01) / 0.0199, (-0.0099 * 3 + 0.01) / 0.0199
    assert float(term) == pytest.approx((1 - a_f) ** 2 + max(a_r - 1, 0) ** 2)


def test_anchors_are_checkpointed_buffers_and_config_round_trips():
    lecam = LeCam(weight=0.1, decay=0.5, start=3, every=2)
    lecam(None, None, None, torch.tensor([1.0]), torch.tensor([2.0]))
    state = lecam.state_dict()
    assert set(state) == {"ema_real", "ema_fake", "steps", "calls"}
    back = Regularizer.from_config(lecam.config())
    assert back.config() == lecam.config() == {"class_path": "datgan_lightning.regularizers.lecam.LeCam",
                                                "init_args": {"weight": 0.1, "decay": 0.5, "start": 3, "every": 2}}  # fmt: skip
    back.load_state_dict(state)
    assert [float(a) for a in back.anchors] == [1.0, 2.0] and int(back.calls) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"decay": 1.0}, r"LeCam: decay=1.0 is invalid; use a number in \[0, 1\)"),
        ({"start": -1}, "LeCam: start=-1 is invalid; use an integer >= 0"),
        ({"weight": -0.3}, "LeCam: weight=-0.3 is invalid; use a finite number >= 0"),
    ],
)
def test_bad_options_name_the_option(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LeCam(**kwargs)


def test_anchors_are_the_global_batch_means_under_data_parallelism(monkeypatch):
    """Each rank sees its share; the EMA steps toward the global means (a simulated second rank with
    4 real logits summing to 12 and 4 fakes summing to -4)."""
    import datgan_lightning.regularizers.lecam as lecam_module

    other_rank = torch.tensor([12.0, 4.0, -4.0, 4.0], dtype=torch.float64)
    monkeypatch.setattr(lecam_module, "sum_over_ranks", lambda stats: stats + other_rank)
    lecam = LeCam(weight=1.0)
    lecam.update(torch.ones(4), torch.zeros(4))  # this rank: means 1 and 0; global: (4 + 12)/8 = 2, -4/8 = -0.5
    anchor_real, anchor_fake = lecam.anchors
    assert float(anchor_real) == 2.0 and float(anchor_fake) == -0.5
