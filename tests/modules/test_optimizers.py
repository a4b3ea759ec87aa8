"""Per-network optimizers and LR schedules (``optimizer_g/d``, ``scheduler_g/d``): the default stays the
Adam of ``lr_*``/``betas_*`` with the linear decay; other optimizers train, checkpoint, load and resume."""

import functools

import pytest
import torch
import yaml

from datgan_lightning.adversarial import DAT
from datgan_lightning.cli import create_cli
from datgan_lightning.data import GaussianMixture2D
from datgan_lightning.modules import SNGAN, WGAN, Toy2DGAN
from tests.conftest import CONFIGS
from tests.conftest import fast_trainer as _trainer

SGD = functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9)
ADAMW = functools.partial(torch.optim.AdamW, lr=1e-3, weight_decay=0.1)
STEP = functools.partial(torch.optim.lr_scheduler.StepLR, step_size=2, gamma=0.5)


def _toy(**kwargs):
    return Toy2DGAN(hidden=8, n_dis=2, perturbation=DAT(eps=0.5, data_range=None), **kwargs)


def test_default_is_adam_with_the_lr_and_betas_options_and_the_linear_decay():
    gan = SNGAN(ngf=4, ndf=4, lr_g=1e-4, lr_d=3e-4, betas_g=(0.5, 0.9), betas_d=(0.1, 0.99))
    (opt_d, opt_g), (sched_d, sched_g) = gan.configure_optimizers()
    assert type(opt_d) is torch.optim.Adam and type(opt_g) is torch.optim.Adam
    assert (opt_d.defaults["lr"], opt_d.defaults["betas"]) == (3e-4, (0.1, 0.99))
    assert (opt_g.defaults["lr"], opt_g.defaults["betas"]) == (1e-4, (0.5, 0.9))
    assert {id(p) for g in opt_d.param_groups for p in g["params"]} == {id(p) for p in gan.discriminator.parameters()}
    assert sched_d.lr_lambdas[0](gan.max_iterations // 2) == 0.5 and sched_g.optimizer is opt_g  # 1 - t / max_iterations
    gan.max_iterations *= 2  # the horizon is read live (a resumed run extended to a later end)
    assert sched_d.lr_lambdas[0](gan.max_iterations // 2) == 0.5
    assert gan.hparams.optimizer_g is None and gan.hparams.scheduler_d is None


def test_optimizer_and_scheduler_per_network_replace_adam_and_the_decay_of_that_net_only():
    gan = _toy(optimizer_d=SGD, optimizer_g=ADAMW, scheduler_d=STEP, lr_decay="linear", max_iterations=10)
    (opt_d, opt_g), (sched_d, sched_g) = gan.configure_optimizers()
    assert type(opt_d) is torch.optim.SGD and opt_d.defaults["momentum"] == 0.9
    assert type(opt_g) is torch.optim.AdamW and opt_g.defaults["weight_decay"] == 0.1
    assert type(sched_d) is torch.optim.lr_scheduler.StepLR and sched_g.lr_lambdas[0](5) == 0.5
    assert gan.hparams.optimizer_d == {"class_path": "torch.optim.sgd.SGD", "init_args": {"lr": 0.05, "momentum": 0.9}}
    # one schedule only (no decay for G): still stepped, as a list of one
    only_d = _toy(scheduler_d=STEP, lr_decay="none")
    optimizers, schedulers = only_d.configure_optimizers()
    assert len(optimizers) == 2 and len(schedulers) == 1 and schedulers[0].optimizer is optimizers[0]


def test_sgd_d_adamw_g_trains_checkpoints_loads_and_resumes(tmp_path):
    """SGD with momentum for D, AdamW for G, D's LR halved every 2 generator iterations (counted in
    generator iterations, not optimizer steps: n_dis 2 makes 3 optimizer steps per iteration)."""
    model = _toy(optimizer_d=SGD, optimizer_g=ADAMW, scheduler_d=STEP, max_iterations=4)
    trainer = _trainer(tmp_path)
    trainer.fit(model, GaussianMixture2D(batch_size=8))
    assert model.generator_iterations == 4 and trainer.global_step == 12
    opt_d, opt_g = model.optimizers()
    assert opt_d.param_groups[0]["lr"] == pytest.approx(0.05 * 0.25)  # two halvings in 4 iterations
    assert "momentum_buffer" in opt_d.optimizer.state[next(model.discriminator.parameters())]
    assert int(opt_g.optimizer.state[next(model.generator.parameters())]["step"]) == 4
    ckpt = tmp_path / "sgd.ckpt"
    trainer.save_checkpoint(ckpt)

    saved = torch.load(ckpt, weights_only=True)  # plain data: no partials in the hparams
    assert saved["hyper_parameters"]["optimizer_g"]["class_path"] == "torch.optim.adamw.AdamW"
    loaded = Toy2DGAN.load_from_checkpoint(ckpt)
    (opt_d, opt_g), _ = loaded.configure_optimizers()
    assert type(opt_d) is torch.optim.SGD and type(opt_g) is torch.optim.AdamW and opt_g.defaults["weight_decay"] == 0.1

    longer = _toy(optimizer_d=SGD, optimizer_g=ADAMW, scheduler_d=STEP, max_iterations=6)
    _trainer(tmp_path).fit(longer, GaussianMixture2D(batch_size=8), ckpt_path=ckpt)
    assert longer.generator_iterations == 6
    assert longer.optimizers()[0].param_groups[0]["lr"] == pytest.approx(0.05 * 0.125)  # StepLR state restored


def test_checkpoint_of_before_the_optimizer_options_loads_as_adam(tmp_path):
    model = _toy(max_iterations=2, lr_g=1e-3, betas_g=(0.5, 0.9))
    trainer = _trainer(tmp_path)
    trainer.fit(model, GaussianMixture2D(batch_size=8))
    trainer.save_checkpoint(tmp_path / "new.ckpt")
    old = torch.load(tmp_path / "new.ckpt", weights_only=True)
    for key in ("optimizer_g", "optimizer_d", "scheduler_g", "scheduler_d"):
        del old["hyper_parameters"][key]  # hparams as checkpoints written before these options hold them
    torch.save(old, tmp_path / "old.ckpt")
    loaded = Toy2DGAN.load_from_checkpoint(tmp_path / "old.ckpt")
    _, opt_g = loaded.configure_optimizers()
    assert type(opt_g) is torch.optim.Adam and opt_g.defaults["betas"] == (0.5, 0.9)
    resumed = _toy(max_iterations=3, lr_g=1e-3, betas_g=(0.5, 0.9))
    _trainer(tmp_path).fit(resumed, GaussianMixture2D(batch_size=8), ckpt_path=tmp_path / "old.ckpt")
    assert resumed.generator_iterations == 3 and int(resumed.optimizers()[1].optimizer.state[next(resumed.generator.parameters())]["step"]) == 3


def test_config_overlay_builds_sgd_for_d_and_adamw_for_g_on_any_module(tmp_path):
    overlay = CONFIGS / "optimizers" / "sgd_d_adamw_g.yaml"
    assert set(yaml.safe_load(overlay.read_text())["model"]["init_args"]) == {"optimizer_d", "optimizer_g", "scheduler_d"}
    cli = create_cli(["--config", str(CONFIGS / "toy2d" / "gan_dat_balanced.yaml"), "--config", str(overlay),
                      f"--trainer.logger.init_args.save_dir={tmp_path}", "--model.init_args.max_iterations=2",
                      "--data.init_args.batch_size=8", "--trainer.callbacks=[]"], run=False)
    (opt_d, opt_g), (sched_d,) = cli.model.configure_optimizers()
    assert type(opt_d) is torch.optim.SGD and opt_d.defaults["lr"] == 0.01 and type(opt_g) is torch.optim.AdamW
    assert type(sched_d) is torch.optim.lr_scheduler.StepLR and sched_d.step_size == 1000
    cli.trainer.fit(cli.model, cli.datamodule)
    assert cli.model.generator_iterations == 2


def test_subclass_with_its_own_defaults_takes_another_optimizer():
    wgan = WGAN(ngf=4, ndf=4, optimizer_d=functools.partial(torch.optim.RMSprop, lr=5e-5))  # the WGAN paper's
    optimizers = wgan.configure_optimizers()
    assert [type(o) for o in optimizers] == [torch.optim.RMSprop, torch.optim.Adam]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"optimizer_d": {"class_path": "torch.optim.NoSuchOptimizer"}}, "optimizer_d='torch.optim.NoSuchOptimizer' is invalid"),
        ({"optimizer_g": 0.1}, "optimizer_g=0.1 is invalid; give a class path"),
    ],
)
def test_bad_optimizer_options_are_one_sentence(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _toy(**kwargs)


def test_a_schedule_that_needs_a_metric_is_refused():
    gan = _toy(scheduler_g=torch.optim.lr_scheduler.ReduceLROnPlateau)
    with pytest.raises(ValueError, match="scheduler_g='ReduceLROnPlateau' is invalid; schedules here step once per generator iteration"):
        gan.configure_optimizers()
