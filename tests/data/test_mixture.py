import math

import pytest
import torch

from datgan_lightning.data import GaussianMixture2D, nine_gaussians


def test_means_and_weights():
    means, weights = nine_gaussians("imbalanced")
    assert sorted(map(tuple, means.tolist())) == [(x, y) for x in (-1.0, 0.0, 1.0) for y in (-1.0, 0.0, 1.0)]
    left, middle, right = (weights[means[:, 0] == x].sum().item() for x in (-1.0, 0.0, 1.0))
    assert (left, middle, right) == pytest.approx((0.15, 0.05, 0.8))
    assert nine_gaussians("balanced")[1].tolist() == pytest.approx([1 / 9] * 9)


def test_samples_follow_weights_and_std():
    dm = GaussianMixture2D("imbalanced", std=0.05, batch_size=20000, seed=3)
    dm.setup("fit")
    x = next(iter(dm.train_dataloader()))
    nearest = torch.cdist(x, dm.means).argmin(1)
    share = torch.bincount(nearest, minlength=9).float() / len(x)
    torch.testing.assert_close(share, dm.weights, atol=0.01, rtol=0)
    assert (x - dm.means[nearest]).std().item() == pytest.approx(0.05, rel=0.05)
    assert dm.std == pytest.approx(0.05) and GaussianMixture2D().std == pytest.approx(math.sqrt(0.1))


def test_stream_is_seeded():
    def batches(seed):
        dm = GaussianMixture2D(batch_size=8, seed=seed)
        it = iter(dm.train_dataloader())
        return [next(it) for _ in range(3)]

    a, b, c = batches(0), batches(0), batches(1)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0]) and not torch.equal(a[0], a[1])


@pytest.mark.parametrize(
    "kwargs, message",
    [({"mixture": "ring"}, r"mixture='ring' is unknown"), ({"std": 0}, r"std=0 is invalid"), ({"batch_size": 0}, "batch_size=0")],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture2D(**kwargs)
