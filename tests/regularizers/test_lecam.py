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
                                                "init_args": {"weight": 0.1, "decay": 0.5, "start": 3, "every": 2, "warmup": "restart", "delay": 0}}
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


def _calls(lecam, batches):
    """Terms and anchors after each call on ``(real logits, fake logits)`` batches."""
    out = []
    for real, fake in batches:
        term = lecam(None, None, None, torch.tensor(real, dtype=torch.float64), torch.tensor(fake, dtype=torch.float64))
        out.append((float(term), [float(a) for a in lecam.anchors]))
    return out


BATCHES = [([4.0], [-4.0]), ([2.0], [0.0]), ([0.0], [2.0]), ([3.0], [-1.0])]


def test_continue_warm_up_by_hand():
    """decay 0.5, start 2, delay 1: calls 1-2 track the batch means, call 3 continues a plain EMA from them
    with the term still off, call 4 is the first with the term."""
    steps = _calls(LeCam(weight=1.0, decay=0.5, start=2, delay=1, warmup="continue"), BATCHES)
    assert steps[0] == (0.0, [4.0, -4.0]) and steps[1] == (0.0, [2.0, 0.0])
    assert steps[2] == (0.0, [1.0, 1.0])  # 0.5*2 + 0.5*0, 0.5*0 + 0.5*2: not restarted, not debiased
    assert steps[3] == (18.0, [2.0, 0.0])  # anchors 0.5*1 + 0.5*3, 0.5*1 - 0.5*1; relu(3 - 0)^2 + relu(2 + 1)^2
    no_warm_up = _calls(LeCam(weight=1.0, decay=0.5, warmup="continue"), BATCHES[:2])  # start 0: the first means seed the EMA
    assert no_warm_up[0] == (128.0, [4.0, -4.0]) and no_warm_up[1][1] == [3.0, -2.0]  # term: relu(2 + 2)^2 + relu(3 - 0)^2
    assert no_warm_up[1][0] == 25.0


def test_restart_warm_up_by_hand():
    """The same batches with the default warm-up: the EMA restarts after the warm-up and is debiased."""
    steps = _calls(LeCam(weight=1.0, decay=0.5, start=2, delay=1), BATCHES)
    assert steps[1] == (0.0, [2.0, 0.0])
    # call 3: e_R = 0.5*(0.5*2) + 0.5*0 = 0.5, e_F = 0.5*0 + 0.5*2 = 1, debiased by 1 - 0.5^2
    assert steps[2][0] == 0.0 and steps[2][1] == pytest.approx([0.5 / 0.75, 1 / 0.75])
    # call 4: e_R = 0.25 + 1.5 = 1.75, e_F = 0.5 - 0.5 = 0, debiased by 1 - 0.5^3
    assert steps[3][0] == pytest.approx(18.0) and steps[3][1] == pytest.approx([2.0, 0.0])
    third = BATCHES[:2] + [([3.0], [-1.0])]  # call 3: e_R = 0.5*1 + 0.5*3 = 2, e_F = -0.5; debiased by 0.75: 8/3, -2/3
    assert _calls(LeCam(weight=1.0, decay=0.5, start=2, delay=1), third)[2][0] == 0.0
    no_delay = _calls(LeCam(weight=1.0, decay=0.5, start=2), third)  # on at call start + 1 = 3
    assert no_delay[2][0] == pytest.approx((3 + 2 / 3) ** 2 + (8 / 3 + 1) ** 2)


class ReferenceEMA:
    """The references' EMA, stated independently: google/lecam-gan third_party/utils.py ``ema_losses`` and
    StudioGAN's ``LeCamEMA`` (``decay = 0`` while ``itr < start_itr``; plain EMA after)."""

    def __init__(self, decay, start_itr, init=1000.0):
        self.D_real = self.D_fake = init
        self.decay, self.start_itr = decay, start_itr

    def update(self, cur, mode, itr):
        decay = 0.0 if itr < self.start_itr else self.decay
        setattr(self, mode, getattr(self, mode) * decay + cur * (1 - decay))


def _reference_terms(decay, start_itr, n_dis, iterations, first_itr, batches, lc):
    """Per D step: the references' training loop (BigGAN: ``itr`` from 1; StudioGAN: ``step`` from 0)."""
    ema, terms, batch = ReferenceEMA(decay, start_itr), [], iter(batches)
    for itr in range(first_itr, first_itr + iterations):
        for _ in range(n_dis):
            real, fake = next(batch)
            ema.update(real.mean().item(), "D_real", itr)
            ema.update(fake.mean().item(), "D_fake", itr)
            on = itr > start_itr
            reg = (torch.relu(real - ema.D_fake).pow(2).mean() + torch.relu(ema.D_real - fake).pow(2).mean()) * lc if on else 0.0
            terms.append(float(reg))
    return terms


@pytest.mark.parametrize(
    "name, decay, first_itr, start_for",
    [("biggan", 0.9, 1, lambda s, k: (s - 1) * k), ("studiogan", 0.99, 0, lambda s, k: s * k)],
)
def test_continue_reproduces_the_references_step_by_step(name, decay, first_itr, start_for):
    n_dis, start_itr, iterations = 3, 4, 9
    generator = torch.Generator().manual_seed(1)
    batches = [(torch.randn(5, generator=generator, dtype=torch.float64) + 1, torch.randn(5, generator=generator, dtype=torch.float64) - 1)
               for _ in range(n_dis * iterations)]
    expected = _reference_terms(decay, start_itr, n_dis, iterations, first_itr, batches, lc=0.3)
    lecam = LeCam(weight=0.3, decay=decay, start=start_for(start_itr, n_dis), delay=n_dis, warmup="continue")
    got = [float(lecam(None, None, None, real, fake)) for real, fake in batches]
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert sum(t > 0 for t in expected) == n_dis * (iterations - start_itr - 1 + first_itr)  # the switch is inside the run
    restarted = LeCam(weight=0.3, decay=decay, start=start_for(start_itr, n_dis), delay=n_dis)
    assert [float(restarted(None, None, None, r, f)) for r, f in batches] != pytest.approx(expected, rel=1e-3)  # the other mode differs


def test_bad_warm_up_options():
    with pytest.raises(ValueError, match=r"^LeCam: warmup='reset' is invalid; use one of \('restart', 'continue'\)\.$"):
        LeCam(warmup="reset")
    with pytest.raises(ValueError, match=r"^LeCam: delay=-1 is invalid; use an integer >= 0 \(the references: n_dis\)\.$"):
        LeCam(delay=-1)
