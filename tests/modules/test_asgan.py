"""AS-GAN: two D updates per D step, the second on FGSM reals made from the first update's gradient."""

import pytest
import torch

from datgan_lightning.adversarial import DAT
from datgan_lightning.modules import ASGAN
from datgan_lightning.nets import MLPGenerator
from tests.conftest import LinearD, fast_trainer, logged_rows


class RecordingLinearD(LinearD):
    """A linear D that keeps a copy of every batch it sees."""

    def __init__(self, w):
        super().__init__(w)
        self.float()  # the generator's dtype
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return super().forward(x)


def _fit(model, batches, n=8):
    data = torch.randn(n * batches, 2)
    loader = torch.utils.data.DataLoader(data, batch_size=n)
    fast_trainer(None).fit(model, loader)
    return data


def test_second_update_sees_fgsm_reals_and_the_same_fakes():
    # ns loss, D(x) = w.x: grad_x g1(D(x)) = sigmoid(-D(x)) w, so FGSM gives x - eps * sign(w)
    D = RecordingLinearD([0.5, -2.0])
    G = MLPGenerator(hidden=4)
    model = ASGAN(eps=0.25, data_range=None, generator=G, discriminator=D, loss="ns", n_dis=1, max_iterations=1)
    D.seen.clear()  # the constructor's check of the nets ran D once
    data = _fit(model, batches=1)
    clean, adversarial, _generator_step = D.seen  # joint forwards on cat(real, fake), then G's step
    real, fake = clean[:8], clean[8:]
    assert torch.equal(real, data)
    assert torch.allclose(adversarial[:8], real - 0.25 * torch.tensor([1.0, -1.0]))
    assert torch.equal(adversarial[8:], fake)


def test_two_adam_steps_per_discriminator_step_and_clamped_reals():
    D = RecordingLinearD([3.0, 3.0])
    model = ASGAN(eps=10.0, generator=MLPGenerator(hidden=4), discriminator=D, loss="ns", n_dis=2, max_iterations=2)
    D.seen.clear()  # the constructor's check of the nets ran D once
    _fit(model, batches=4)
    opt_d = model.optimizers()[0].optimizer
    assert int(next(iter(opt_d.state.values()))["step"]) == 2 * 4  # two updates per each of the 4 D steps
    adversarial_reals = [D.seen[i][:8] for i in (1, 3)]  # D.seen: clean, FGSM, clean, FGSM, G step, ...
    assert all(((x == -1) | (x == 1)).all() for x in adversarial_reals)  # eps=10 then clamp to [-1, 1]


@pytest.mark.parametrize("option, value, message", [
    ("eps", -0.1, r"eps=-0.1 is invalid; use eps >= 0"),
    ("perturbation", DAT(), r"perturbation=.* is invalid; leave it unset for ASGAN"),
])
def test_bad_options_name_the_option_and_fix(option, value, message):
    with pytest.raises(ValueError, match=message):
        ASGAN(generator=MLPGenerator(), discriminator=LinearD([1.0, 1.0]), **{option: value})


def test_adaptive_augmentations_observe_one_batch_per_d_step():
    """AS-GAN's second update (on FGSM reals) must not count as another D step for ADA."""
    from datgan_lightning.augmentations import Augmentation

    class Counting(Augmentation):
        def __init__(self):
            super().__init__()
            self.observed = 0

        def forward(self, images):
            return images

        def observe(self, d_real):
            self.observed += 1

    counting = Counting()
    model = ASGAN(eps=0.25, data_range=None, generator=MLPGenerator(hidden=4), discriminator=RecordingLinearD([0.5, -2.0]),
                  loss="ns", n_dis=1, max_iterations=3, augmentations=[counting])
    _fit(model, batches=3)
    assert counting.observed == 3


def test_the_fgsm_step_is_logged_in_grey_levels_on_logged_steps(tmp_path):
    """eps = 1/255 on data in [-1, 1] moves every real pixel by exactly half a grey level (2/255), unless
    clamped: reals in (-0.5, 0.5) are not."""
    from lightning.pytorch.loggers import CSVLogger

    D = RecordingLinearD([0.5, -2.0])
    model = ASGAN(eps=1 / 255, generator=MLPGenerator(hidden=4), discriminator=D, loss="ns", n_dis=1, max_iterations=4)
    logger = CSVLogger(tmp_path, name="logs")
    loader = torch.utils.data.DataLoader(torch.rand(32, 2) - 0.5, batch_size=8)
    fast_trainer(tmp_path, logger=logger, log_every_n_steps=2).fit(model, loader)
    rows = logged_rows(logger, "perturbation/real/mean_grey")
    assert [float(r["generator_iterations"]) for r in rows] == [2.0, 4.0]
    for row in rows:
        assert float(row["perturbation/real/mean_grey"]) == pytest.approx(0.5) == float(row["perturbation/real/max_grey"])
        assert float(row["perturbation/real/grad_norm"]) > 0
