"""DiffAugment's ops against hand-computed images with the random parameters pinned."""

import pytest
import torch

from datgan_lightning.augmentations import Augmentation, DiffAugment
from datgan_lightning.augmentations.diffaugment import cut, translate


def _image(n=1, c=1, h=4, w=4):
    return torch.arange(1.0, n * c * h * w + 1).reshape(n, c, h, w)


def test_translate_by_a_known_shift_fills_zeros():
    x = _image()  # rows [1 2 3 4], [5 6 7 8], ...
    y = translate(x, torch.tensor([1]), torch.tensor([-2]))  # T(x)[i, j] = x[i + 1, j - 2]
    expected = torch.tensor([[0, 0, 5, 6], [0, 0, 9, 10], [0, 0, 13, 14], [0, 0, 0, 0.0]])
    assert torch.equal(y[0, 0], expected)


def test_translation_with_the_rng_pinned_is_the_drawn_shift():
    x = _image(n=3, c=2, h=8, w=8)
    torch.manual_seed(3)
    shifts = torch.randint(-1, 2, (3,)), torch.randint(-1, 2, (3,))  # s = int(8 / 8 + 0.5) = 1
    torch.manual_seed(3)
    y = DiffAugment("translation")(x)
    for n in range(3):
        dh, dw = int(shifts[0][n]), int(shifts[1][n])
        padded = torch.nn.functional.pad(x[n], (1, 1, 1, 1))
        assert torch.equal(y[n], padded[:, 1 + dh : 9 + dh, 1 + dw : 9 + dw])


def test_cutout_zeros_a_half_size_square_clipped_at_the_border():
    x = _image()
    assert torch.equal(cut(x, torch.tensor([-1]), torch.tensor([2]), (2, 2))[0, 0],
                       torch.tensor([[1, 2, 0, 0], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16.0]]))
    torch.manual_seed(0)
    y = DiffAugment("cutout")(torch.ones(64, 3, 8, 8))
    holes = (y == 0).all(1)  # the same pixels in every channel
    assert torch.equal((y == 0), holes.unsqueeze(1).expand_as(y))
    assert holes.flatten(1).sum(1).max() == 16 and holes.flatten(1).sum(1).min() >= 4  # 4x4 square, at least a 2x2 corner


def test_color_ops_with_pinned_uniforms():
    x = torch.tensor([[[[0.5, -0.5]], [[0.1, 0.3]], [[0.0, 0.2]]]])  # (1, 3, 1, 2)
    torch.manual_seed(7)
    u = torch.rand(3)
    torch.manual_seed(7)
    y = DiffAugment("color")(x)
    b = x + (u[0] - 0.5)
    m = b.mean(1, keepdim=True)
    s = (b - m) * (2 * u[1]) + m
    c = (s - s.mean()) * (u[2] + 0.5) + s.mean()
    torch.testing.assert_close(y, c)


def test_shape_dtype_range_and_identity():
    x = torch.rand(6, 3, 16, 16, dtype=torch.float64) * 2 - 1
    for policy in ("color", "translation", "cutout", "flip", "color,translation,cutout"):
        y = DiffAugment(policy)(x)
        assert y.shape == x.shape and y.dtype == x.dtype
        if policy != "color" and "color" not in policy:
            assert y.abs().max() <= 1  # geometric ops keep [-1, 1]; color shifts (brightness ±0.5) may leave it
    assert torch.equal(DiffAugment(probability=0.0)(x), x)


def test_probability_applies_each_op_to_each_sample_independently():
    torch.manual_seed(0)
    x = torch.ones(2000, 1, 4, 4)
    y = DiffAugment("cutout", probability=0.3, cutout=0.25)(x)  # a 1x1 hole: always inside the image
    hit = (y == 0).flatten(1).any(1).float().mean()
    assert abs(hit - 0.3) < 0.04
    assert torch.equal(y[(y == 1).flatten(1).all(1)], x[: int((y == 1).flatten(1).all(1).sum())])  # untouched samples exact


def test_channels_last_gives_the_same_values_and_keeps_its_layout():
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    xc = x.contiguous(memory_format=torch.channels_last)
    torch.manual_seed(1)
    a = DiffAugment()(x)
    torch.manual_seed(1)
    b = DiffAugment()(xc)
    torch.testing.assert_close(a, b)  # color's means sum in another order: equal up to rounding
    assert a.is_contiguous() and b.is_contiguous(memory_format=torch.channels_last)
    torch.manual_seed(1)
    assert torch.equal(DiffAugment("translation,cutout,flip")(x), (torch.manual_seed(1), DiffAugment("translation,cutout,flip")(xc))[1])


def test_seeded_through_the_global_rng():
    x = torch.rand(4, 3, 8, 8)
    torch.manual_seed(5)
    a = DiffAugment()(x)
    torch.manual_seed(5)
    assert torch.equal(a, DiffAugment()(x)) and not torch.equal(a, DiffAugment()(x))  # fresh draws every call


def test_gradient_flows_to_the_input():
    x = torch.rand(3, 3, 8, 8, requires_grad=True)
    torch.manual_seed(0)
    DiffAugment("translation,cutout", translation=0.0)(x).sum().backward()  # no shift: d/dx is the cutout mask
    assert ((x.grad == 0) | (x.grad == 1)).all() and x.grad.flatten(1).sum(1).min() >= 3 * (64 - 16)
    assert x.grad.flatten(1).sum(1).max() <= 3 * (64 - 4)  # a 4x4 hole, clipped to at least 2x2 at a corner
    x.grad = None
    DiffAugment("translation")(x).pow(2).sum().backward()
    assert (x.grad != 0).any()


def test_config_round_trip():
    aug = DiffAugment("translation,cutout", probability=0.5, cutout=0.25)
    back = Augmentation.from_config(aug.config())
    assert type(back) is DiffAugment and back.config() == aug.config() and back.ops == ["translation", "cutout"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"policy": "color,rotate"}, "DiffAugment: policy='color,rotate' is invalid; use a comma-separated list of"),
        ({"policy": ""}, "DiffAugment: policy='' is invalid"),
        ({"probability": 1.5}, r"DiffAugment: probability=1.5 is invalid; use a number in \[0, 1\]"),
        ({"translation": -0.1}, r"DiffAugment: translation=-0.1 is invalid; use a fraction of the image side in \[0, 1\]"),
        ({"cutout": True}, "DiffAugment: cutout=True is invalid"),
    ],
)
def test_bad_options_are_one_sentence_naming_the_option(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DiffAugment(**kwargs)
    with pytest.raises(ValueError, match=r"augments image batches \(N, C, H, W\); got shape \(2, 3\)"):
        DiffAugment()(torch.zeros(2, 3))


def test_one_gan_iteration_composes_dat_diffaugment_lecam_and_bcr(tmp_path):
    """DCGAN + DAT + DiffAugment + LeCam + bCR trains one iteration; G gets gradients through T;
    LeCam's anchors moved and travel in the checkpoint."""
    from datgan_lightning.adversarial import DAT
    from datgan_lightning.modules import DCGAN
    from datgan_lightning.regularizers import BCR, LeCam
    from tests.conftest import fast_trainer, image_loader

    torch.manual_seed(0)
    model = DCGAN(ngf=4, ndf=4, latent_dim=8, channels=1, max_iterations=1, perturbation=DAT(),
                  augmentations=[DiffAugment()], regularizers=[LeCam(), BCR()])
    g_before = [p.detach().clone() for p in model.generator.parameters()]
    trainer = fast_trainer(tmp_path)
    trainer.fit(model, image_loader(channels=1))
    assert model.generator_iterations == 1 and int(model.regularizers[0].calls) == 1
    assert all(not torch.equal(a, b) for a, b in zip(g_before, model.generator.parameters()))
    trainer.save_checkpoint(tmp_path / "all.ckpt")
    loaded = DCGAN.load_from_checkpoint(tmp_path / "all.ckpt")
    assert [type(r) for r in loaded.regularizers] == [LeCam, BCR] and type(loaded.augmentations[0]) is DiffAugment
    assert torch.equal(loaded.regularizers[0].ema_real, model.regularizers[0].ema_real) and int(loaded.regularizers[0].calls) == 1
    assert loaded.regularizers[1].augmentation.ops == ["flip", "translation"]
