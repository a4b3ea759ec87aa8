"""Robustness diagnostics on a linear D, D(x) = w.x + b, whose answers are computable by hand."""

import math

import pytest
import torch

from datgan_lightning.metrics.robustness import decision_threshold, fgsm_accuracy, flip_share, iterations_to_flip, robustness_report


def linear_d(w, b=0.0):
    D = torch.nn.Linear(len(w), 1)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([w]))
        D.bias.fill_(b)
    return D


def test_flip_share_is_the_share_within_eps_times_the_l1_norm():
    # an L-inf step of eps moves w.x by at most eps * ||w||_1 = 0.1 * 3 = 0.3
    D = linear_d([1.0, -2.0])
    x = torch.tensor([[0.25, 0.0], [0.0, 0.1], [0.5, 0.0], [-0.29, 0.0], [0.0, 0.2]])  # logits .25 -.2 .5 -.29 -.4
    assert flip_share(D, x, threshold=0.0, eps=0.1, data_range=None) == pytest.approx(3 / 5)
    assert flip_share(D, x, threshold=0.0, eps=0.0, data_range=None) == 0.0


def test_flip_share_respects_the_data_range():
    D = linear_d([1.0])
    x = torch.tensor([[-0.95]])  # judged fake; +0.05 is enough and inside [-1, 1]
    assert flip_share(D, x, threshold=-0.9, eps=0.1, data_range=(-1.0, 1.0)) == 1.0
    assert flip_share(D, torch.tensor([[0.98]]), threshold=1.05, eps=0.1, data_range=(-1.0, 1.0)) == 0.0  # clamp at 1 stops it


def test_iterations_to_flip_by_hand():
    D = linear_d([1.0, 1.0])  # each step of 0.01 moves the logit by 0.02
    x = torch.tensor([[0.05, 0.0], [-0.05, 0.0], [0.31, 0.3], [0.0, 0.0]])  # logits .05, -.05, .61, 0 (judged fake)
    expected = [math.ceil(0.05 / 0.02), math.floor(0.05 / 0.02) + 1, math.ceil(0.61 / 0.02), 1]
    steps = iterations_to_flip(D, x, threshold=0.0, step_size=0.01, max_iterations=100, data_range=None)
    assert steps.tolist() == expected
    capped = iterations_to_flip(D, x, threshold=0.0, step_size=0.01, max_iterations=10, data_range=None)
    assert capped.tolist() == [3, 3, 10, 1]


def test_fgsm_accuracy_by_hand():
    D = linear_d([1.0, 1.0])
    real = torch.tensor([[0.002, 0.0], [0.5, 0.5], [-0.1, 0.0]])  # logits .002 (flipped by 2/255), 1.0, -0.1 (wrong)
    clean, adversarial = fgsm_accuracy(D, real, threshold=0.0, eps=1 / 255, data_range=None)
    assert clean == pytest.approx(2 / 3) and adversarial == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    "loss, expected", [("ns", 0.5), ("minimax", 0.5), ("hinge", 0.5), ("wasserstein", 0.5), ("lsgan", 0.0)]
)
def test_fgsm_steps_down_the_logit_under_every_loss(loss, expected):
    """Linear D, w = (1, 1): the step -0.6 * sign(w) lowers every logit by 1.2, whatever the loss, so
    reals at 1.003 and 1.5 end at -0.197 and 0.3. Thresholds: 0 (ns, minimax, hinge), 0.5 (lsgan), and
    for wasserstein the midpoint of the clean means (1.2515 real, -1.5 fake): -0.12425. An attack on
    g1 instead would leave hinge reals above 1 untouched (flat g1) and push lsgan reals above 1 up."""
    D = linear_d([1.0, 1.0])
    real = torch.tensor([[0.5015, 0.5015], [0.75, 0.75]])
    fake = torch.tensor([[-0.75, -0.75]])
    report = robustness_report(D, real, fake, loss, fgsm_eps=0.6, max_iterations=2, data_range=None)
    assert report["robustness/accuracy_real_clean"] == 1.0
    assert report["robustness/accuracy_real_fgsm"] == pytest.approx(expected)


def test_thresholds_per_loss():
    assert decision_threshold("hinge") == 0.0 and decision_threshold("lsgan") == 0.5
    assert decision_threshold("wasserstein", torch.tensor([3.0, 5.0]), torch.tensor([-1.0])) == 1.5
    with pytest.raises(ValueError, match="wasserstein.*no fixed threshold"):
        decision_threshold("wasserstein")


def test_report_restores_the_discriminators_mode():
    D = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)).train()
    report = robustness_report(D, torch.rand(8, 2), torch.rand(8, 2), "ns", max_iterations=5)
    assert D.training and set(report) == {
        "robustness/flip_share_fake", "robustness/iterations_to_flip_real", "robustness/iterations_to_flip_fake",
        "robustness/accuracy_real_clean", "robustness/accuracy_real_fgsm",
    }


def test_report_is_the_same_under_no_grad():
    torch.manual_seed(0)
    D = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    real, fake = torch.rand(8, 2), torch.rand(8, 2)
    expected = robustness_report(D, real, fake, "ns", max_iterations=5)
    with torch.no_grad():  # e.g. called from an evaluation loop: the attacks still get their input gradients
        assert robustness_report(D, real, fake, "ns", max_iterations=5) == expected


def test_report_clamps_every_attack_to_the_data_range():
    """1-D linear D, w = 1, b = 1.01: a sample at -0.995 has logit 0.015 and at the range's edge -1 still
    0.01 > 0, so inside [-1, 1] no attack can flip it; unclamped, every attack would."""
    D = linear_d([1.0], b=1.01)
    x = torch.tensor([[-0.995]])
    report = robustness_report(D, x, x.clone(), "ns", fgsm_eps=0.6, step_size=0.01, max_iterations=5)
    assert report == {
        "robustness/flip_share_fake": 0.0, "robustness/iterations_to_flip_real": 5.0, "robustness/iterations_to_flip_fake": 5.0,
        "robustness/accuracy_real_clean": 1.0, "robustness/accuracy_real_fgsm": 1.0,
    }
    unclamped = robustness_report(D, x, x.clone(), "ns", fgsm_eps=0.6, step_size=0.01, max_iterations=5, data_range=None)
    assert unclamped["robustness/flip_share_fake"] == 1.0 and unclamped["robustness/accuracy_real_fgsm"] == 0.0
    assert unclamped["robustness/iterations_to_flip_real"] == 2.0  # 0.015 - 0.01 > 0, 0.015 - 0.02 < 0


def test_a_logit_at_the_threshold_is_judged_fake():
    D = linear_d([1.0])
    clean, _ = fgsm_accuracy(D, torch.tensor([[0.0], [0.5]]), threshold=0.0, eps=0.1, data_range=None)
    assert clean == 0.5


def test_report_defaults_are_the_papers():
    import inspect

    defaults = {k: p.default for k, p in inspect.signature(robustness_report).parameters.items() if p.default is not p.empty}
    # DAT Fig. 1/8: ||delta||_inf <= 0.1; AS-GAN Table 2: FGSM eps 1/255; images in [-1, 1]
    assert defaults["flip_eps"] == 0.1 and defaults["fgsm_eps"] == 1 / 255 and defaults["data_range"] == (-1.0, 1.0)
    assert (defaults["flip_steps"], defaults["step_size"], defaults["max_iterations"]) == (10, 0.01, 100)


def test_wasserstein_threshold_needs_both_batches():
    with pytest.raises(ValueError, match="no fixed threshold; pass D's logits on clean reals and fakes"):
        decision_threshold("wasserstein", d_real=torch.tensor([1.0]))


def test_flip_share_takes_steps_of_eps_over_4_and_counts_a_flip_at_the_last_step():
    """w = (1, 0): a logit of 0.0999 needs 4 steps of 0.1 / 4 = 0.025 to cross 0; the second input
    coordinate has zero gradient and must stay put (sign 0 moves nothing)."""
    D = linear_d([1.0, 0.0])
    x = torch.tensor([[0.0999, 0.3]])
    assert flip_share(D, x, threshold=0.0, eps=0.1, steps=3, data_range=None) == 0.0
    assert flip_share(D, x, threshold=0.0, eps=0.1, steps=4, data_range=None) == 1.0
    assert iterations_to_flip(D, x, threshold=0.0, step_size=0.025, max_iterations=10, data_range=None).tolist() == [4]


def test_fgsm_leaves_zero_gradient_coordinates_alone():
    D = linear_d([1.0, 0.0])
    clean, adversarial = fgsm_accuracy(D, torch.tensor([[0.5, 0.3]]), threshold=0.0, eps=0.1, data_range=None)
    assert (clean, adversarial) == (1.0, 1.0)
