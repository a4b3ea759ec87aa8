"""bCR and CR against hand-computed values with a linear D and a deterministic augmentation."""

import pytest
import torch

from datgan_lightning.augmentations import Augmentation, DiffAugment
from datgan_lightning.regularizers import BCR, CR, Regularizer
from tests.conftest import LinearD


class Shift(Augmentation):
    """T(x) = x + offset: deterministic, so D(T(x)) - D(x) = w . offset for a linear D."""

    def __init__(self, offset: float = 1.0):
        super().__init__()
        self.offset = offset

    def forward(self, images):
        return images + self.offset


W = [1.0, 2.0]
REAL = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
FAKE = torch.tensor([[3.0, 3.0]], dtype=torch.float64)


def test_bcr_is_the_weighted_squared_logit_change_on_reals_and_fakes():
    D = LinearD(W)
    term = BCR(weight_real=2.0, weight_fake=0.5, augmentation=Shift(1.0))(D, REAL, FAKE, None, None)
    torch.testing.assert_close(term, torch.tensor(2.0 * 3**2 + 0.5 * 3**2, dtype=torch.float64))  # w . (1, 1) = 3
    term = BCR(weight_real=1.0, weight_fake=0.0, augmentation=Shift(-2.0))(D, REAL, FAKE, None, None)
    torch.testing.assert_close(term, torch.tensor(36.0, dtype=torch.float64))


def test_bcr_uses_the_logits_d_loss_computed_and_trains_both_sides():
    D = LinearD(W)
    d_real = torch.tensor([5.0, 5.0], dtype=torch.float64)  # what the GAN loss saw (e.g. D∘A): D(T(x)) = (2, 3)
    term = BCR(weight_real=1.0, weight_fake=0.0, augmentation=Shift(1.0))(D, REAL, FAKE, d_real, None)
    torch.testing.assert_close(term, torch.tensor(((4 - 5) ** 2 + (5 - 5) ** 2) / 2, dtype=torch.float64))
    D.zero_grad()
    CR(weight=1.0, augmentation=Shift(1.0))(D, REAL, FAKE).backward()  # D(x + 1) - D(x) = w1 + w2: grad 2*3*(1, 1)
    torch.testing.assert_close(D.w.grad, torch.tensor([6.0, 6.0], dtype=torch.float64))


def test_cr_is_reals_only():
    D = LinearD(W)
    torch.testing.assert_close(CR(weight=3.0, augmentation=Shift(1.0))(D, REAL, FAKE), torch.tensor(27.0, dtype=torch.float64))


def test_defaults_are_the_papers():
    bcr, cr = BCR(), CR()
    assert (bcr.weight_real, bcr.weight_fake, cr.weight, cr.weight_fake) == (10.0, 10.0, 10.0, 0.0)
    for reg in (bcr, cr):
        assert type(reg.augmentation) is DiffAugment and reg.augmentation.ops == ["flip", "translation"]
        assert reg.augmentation.translation == 0.125


def test_gradient_flows_through_the_default_augmentation_to_d():
    D = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.LazyLinear(1))
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    D(x)
    BCR()(D, x, x.flip(0)).backward()
    assert all((p.grad != 0).any() for p in (D[0].weight, D[2].weight))
    assert float(D[2].bias.grad) == 0.0  # D's last bias cancels in D(T(x)) - D(x)


def test_config_round_trip_keeps_the_augmentation():
    bcr = BCR(weight_real=5.0, augmentation=DiffAugment("translation", translation=0.25))
    config = bcr.config()
    assert config["init_args"]["augmentation"] == DiffAugment("translation", translation=0.25).config()
    back = Regularizer.from_config(config)
    assert type(back) is BCR and back.config() == config and back.augmentation.translation == 0.25
    assert CR.from_config(CR().config()).config() == CR().config()


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: BCR(weight_real=-1.0), "BCR: weight_real=-1.0 is invalid; use a finite number >= 0"),
        (lambda: BCR(weight_fake=float("nan")), "BCR: weight_fake=nan is invalid"),
        (lambda: CR(weight=-2.0), r"CR: weight=-2.0 is invalid; use a finite number >= 0 \(0 disables the term\)\."),
        (lambda: BCR(augmentation="flip"), "BCR: augmentation='flip' is invalid; use an Augmentation from datgan_lightning.augmentations"),
    ],
)
def test_bad_options_name_the_option(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_inside_d_of_a_the_gan_augmentation_is_drawn_once():
    """Under GAN(augmentations=[A]) the term is (D(T(A(x))) - D(A(x)))^2 with one draw of A: zero for T = identity
    even when A is random, and the logits the loss computed (another draw of A) are not reused."""
    from datgan_lightning.augmentations import AugmentedDiscriminator

    class Noise(Augmentation):
        def forward(self, images):
            return images + torch.randn_like(images)

    critic = AugmentedDiscriminator(LinearD(W), [Noise()])
    stale = torch.full((2,), 100.0, dtype=torch.float64)
    assert float(BCR(augmentation=Shift(0.0))(critic, REAL, REAL, stale, stale)) == 0.0
    term = BCR(weight_real=1.0, weight_fake=0.0, augmentation=Shift(1.0))(critic, REAL, FAKE, stale, None)
    torch.testing.assert_close(term, torch.tensor(9.0, dtype=torch.float64))  # w . (1, 1) = 3, whatever A drew


def test_any_critic_with_augment_and_discriminator_is_treated_as_d_of_a():
    """The regularizers know the augmented critic by its two members, not by the module's wrapper class:
    a plain object with ``augment`` and ``discriminator`` gets the one-draw treatment, and an object with
    only ``discriminator`` (LabelledDiscriminator's shape) does not."""
    from datgan_lightning.regularizers.base import AugmentedCritic

    class DuckCritic:
        def __init__(self, discriminator):
            self.discriminator = discriminator

        def augment(self, x):
            return x + torch.randn_like(x)

        def __call__(self, x):
            return self.discriminator(self.augment(x))

    critic = DuckCritic(LinearD(W))
    stale = torch.full((2,), 100.0, dtype=torch.float64)
    assert isinstance(critic, AugmentedCritic) and not isinstance(LinearD(W), AugmentedCritic)
    term = BCR(weight_real=1.0, weight_fake=0.0, augmentation=Shift(1.0))(critic, REAL, FAKE, stale, None)
    torch.testing.assert_close(term, torch.tensor(9.0, dtype=torch.float64))  # the stale logits were not reused

    class OnlyInner(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.discriminator = LinearD(W)

        def forward(self, x):
            return self.discriminator(x)

    assert not isinstance(OnlyInner(), AugmentedCritic)
