import math

import pytest
import torch

from datgan_lightning.metrics import mixture_scores

MEANS = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
WEIGHTS = torch.tensor([0.5, 0.25, 0.25])


def test_hand_computed_scores():
    # 8 samples: 4 at mode 0, 2 at mode 1, 1 just outside mode 2's 3-std radius (0.15), 1 far away
    samples = torch.tensor([[0.0, 0.0]] * 4 + [[1.0, 0.1]] * 2 + [[0.0, 1.16], [5.0, 5.0]])
    s = mixture_scores(samples, MEANS, WEIGHTS, std=0.05, min_share=0.2)
    assert s["counts"] == [4, 2, 0]
    assert s["modes"] == 2  # mode 1 has 2/8 = 0.25 >= 0.2
    assert s["hq"] == pytest.approx(6 / 8)
    q = [5 / 9, 3 / 9, 1 / 9]  # one pseudo-count per mode
    expected = sum(p * math.log(p / qi) for p, qi in zip([0.5, 0.25, 0.25], q))
    assert s["kl"] == pytest.approx(expected)


def test_min_share_threshold():
    samples = torch.tensor([[0.0, 0.0]] * 9 + [[1.0, 0.0]])
    assert mixture_scores(samples, MEANS, WEIGHTS, std=0.05, min_share=0.1)["modes"] == 2
    assert mixture_scores(samples, MEANS, WEIGHTS, std=0.05, min_share=0.11)["modes"] == 1


def test_perfect_samples_have_small_kl():
    modes = torch.multinomial(WEIGHTS, 20000, replacement=True)
    samples = MEANS[modes] + 0.05 * torch.randn(20000, 2)
    s = mixture_scores(samples, MEANS, WEIGHTS, std=0.05)
    assert s["modes"] == 3 and s["hq"] > 0.98 and s["kl"] < 1e-3


def test_bad_min_share():
    with pytest.raises(ValueError, match="min_share=2 is invalid"):
        mixture_scores(torch.zeros(2, 2), MEANS, WEIGHTS, std=0.05, min_share=2)
