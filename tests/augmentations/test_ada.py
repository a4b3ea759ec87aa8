"""ADA-style p: moves by sign(r_t - target) * n / speed every `interval` D steps, clamped, checkpointed."""

import pytest
import torch

from datgan_lightning.augmentations import AdaptiveAugment, Augmentation
from datgan_lightning.modules import DCGAN
from tests.conftest import fast_trainer, image_loader, logged_rows


def _observe(ada, logits, times):
    for _ in range(times):
        ada.observe(torch.tensor(logits))


def test_p_rises_when_d_overfits_and_falls_when_it_does_not():
    ada = AdaptiveAugment(target=0.6, speed=100, interval=2)
    _observe(ada, [1.0, 2.0, 3.0, -1.0], 1)  # one step: no adjustment yet
    assert ada.log_values()["p"] == 0.0 and int(ada.steps) == 1
    _observe(ada, [1.0, 1.0, 1.0, 1.0], 1)  # r_t = (2 + 4) / 8 = 0.75 > 0.6: p += 8 / 100
    assert ada.log_values() == pytest.approx({"p": 0.08, "r_t": 0.75})
    _observe(ada, [1.0, -1.0, -2.0, 0.5], 2)  # r_t = 0 < 0.6: p -= 0.08
    assert ada.log_values() == pytest.approx({"p": 0.0, "r_t": 0.0})
    _observe(ada, [-1.0] * 4, 2)  # clamped at 0
    assert float(ada.p) == 0.0
    ada = AdaptiveAugment(speed=10, interval=1, p_init=0.9)
    _observe(ada, [5.0] * 4, 1)  # +0.4, clamped at 1
    assert float(ada.p) == 1.0


def test_defaults_are_adas():
    ada = AdaptiveAugment()
    assert (ada.target, ada.speed, ada.interval, ada.p_init, ada.policy) == (0.6, 500_000, 4, 0.0, "color,translation,cutout")
    _observe(ada, [1.0] * 32, 4)  # ADA's batch 32 x interval 4 = 128 images: p += 128 / 500k
    assert float(ada.p) == pytest.approx(128 / 500_000)


def test_p_is_the_probability_applied():
    x = torch.ones(4000, 1, 4, 4)
    ada = AdaptiveAugment(policy="cutout", cutout=0.25, p_init=0.25)
    torch.manual_seed(0)
    hit = (ada(x) == 0).flatten(1).any(1).float().mean()
    assert abs(hit - 0.25) < 0.03
    assert torch.equal(AdaptiveAugment()(x), x)  # p = 0: the identity
    ada.p.fill_(1.0)
    assert (ada(x) == 0).flatten(1).any(1).all()


def test_gradient_reaches_the_input_through_adaptive_ops():
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    AdaptiveAugment(policy="color", p_init=1.0)(x).pow(2).sum().backward()
    assert x.grad is not None and (x.grad != 0).any()


def test_p_survives_a_lightning_checkpoint_and_a_resumed_run_continues_from_it(tmp_path):
    torch.manual_seed(0)
    ada = AdaptiveAugment(speed=16, interval=1)  # 4 reals per D step: p moves by 0.25 per step
    model = DCGAN(ngf=4, ndf=4, latent_dim=8, channels=1, max_iterations=2, augmentations=[ada])
    trainer = fast_trainer(tmp_path)
    trainer.fit(model, image_loader(channels=1, batch_size=4))
    p = float(model.augmentations[0].p)
    assert p in (0.0, 0.25, 0.5) and int(model.augmentations[0].steps) == 0
    model.augmentations[0].p.fill_(0.75)  # a value no fresh run starts from
    trainer.save_checkpoint(tmp_path / "ada.ckpt")
    assert "augmentations.0.p" in torch.load(tmp_path / "ada.ckpt", weights_only=False)["state_dict"]
    loaded = DCGAN.load_from_checkpoint(tmp_path / "ada.ckpt")
    assert type(loaded.augmentations[0]) is AdaptiveAugment and float(loaded.augmentations[0].p) == 0.75
    assert loaded.augmentations[0].speed == 16  # rebuilt from the saved config
    longer = DCGAN(ngf=4, ndf=4, latent_dim=8, channels=1, max_iterations=3, augmentations=[AdaptiveAugment(speed=16, interval=1)])
    fast_trainer(tmp_path).fit(longer, image_loader(channels=1, batch_size=4), ckpt_path=tmp_path / "ada.ckpt")
    assert float(longer.augmentations[0].p) in (0.5, 1.0)  # one more step from 0.75, not from 0


def test_config_round_trip_and_bad_options():
    ada = AdaptiveAugment(policy="translation", target=0.5, speed=1000, interval=2, p_init=0.1)
    back = Augmentation.from_config(ada.config())
    assert back.config() == ada.config() and float(back.p) == pytest.approx(0.1)
    for kwargs, message in [
        ({"target": 1.5}, r"AdaptiveAugment: target=1.5 is invalid; use a number in \[0, 1\]"),
        ({"speed": 0}, "AdaptiveAugment: speed=0 is invalid; use a number of images > 0"),
        ({"interval": 2.5}, "AdaptiveAugment: interval=2.5 is invalid; use an integer >= 1"),
        ({"p_init": -0.1}, r"AdaptiveAugment: p_init=-0.1 is invalid; use a probability in \[0, 1\]"),
        ({"policy": "zoom"}, "AdaptiveAugment: policy='zoom' is invalid"),
    ]:
        with pytest.raises(ValueError, match=message):
            AdaptiveAugment(**kwargs)


def test_p_is_logged_by_the_gan_module(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    from datgan_lightning.augmentations import AdaptiveAugment
    from datgan_lightning.modules import DCGAN
    from tests.conftest import fast_trainer, image_loader

    logger = CSVLogger(tmp_path, name="logs")
    model = DCGAN(ngf=4, ndf=4, latent_dim=8, channels=1, max_iterations=2, augmentations=[AdaptiveAugment(interval=1, speed=64)])
    fast_trainer(tmp_path, logger=logger, log_every_n_steps=1).fit(model, image_loader(channels=1))
    rows = logged_rows(logger, "augmentation/p")
    assert len(rows) == 2 and float(rows[-1]["augmentation/p"]) == float(model.augmentations[0].p)


def test_r_t_is_the_global_batchs_under_data_parallelism(monkeypatch):
    """Each rank observes its share; r_t sums signs and counts over ranks (a simulated second rank whose
    8 real logits are all negative), so p moves as on one device with the global batch."""
    import datgan_lightning.augmentations.ada as ada_module

    other_rank = torch.tensor([-4.0, 8.0], dtype=torch.float64)  # sum of signs (2 positive, 6 negative), count
    monkeypatch.setattr(ada_module, "sum_over_ranks", lambda stats: stats + other_rank)
    ada = AdaptiveAugment(speed=64, interval=1, p_init=0.5)
    ada.observe(torch.ones(8))  # this rank alone: r_t = 1 and p would rise
    # global: r_t = (8 - 4) / 16 = 0.25 < 0.6, so p falls by the 16 images observed / 64
    assert float(ada.r_t) == 0.25 and float(ada.p) == 0.25
