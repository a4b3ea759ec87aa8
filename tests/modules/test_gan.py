import pytest
import torch

from datgan_lightning.adversarial import DAT
from datgan_lightning.data import GaussianMixture2D
from datgan_lightning.losses import get_loss
from datgan_lightning.modules import GAN, Toy2DGAN
from datgan_lightning.modules.optim import linear_decay
from datgan_lightning.nets import MLPDiscriminator, MLPGenerator
from tests.conftest import fast_trainer as _trainer
from tests.conftest import logged_rows


def _adam_steps(optimizer):
    return int(next(iter(optimizer.state.values()))["step"])


@pytest.mark.parametrize("perturbation", [None, DAT(eps=1.0, data_range=None)])
def test_n_dis_discriminator_steps_per_generator_iteration(tmp_path, perturbation):
    model = Toy2DGAN(hidden=8, n_dis=3, max_iterations=4, perturbation=perturbation)
    trainer = _trainer(tmp_path)
    trainer.fit(model, GaussianMixture2D(batch_size=16))
    opt_d, opt_g = (o.optimizer for o in model.optimizers())
    assert _adam_steps(opt_d) == 12 and _adam_steps(opt_g) == 4
    assert model.generator_iterations == 4 and model.discriminator_steps == 12
    assert trainer.global_step == 16  # Lightning counts every optimizer step


class RecordsStepLRs(Toy2DGAN):
    """Records the LR each optimizer step actually used, D's and G's apart."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.used_lrs = {"d": [], "g": []}

    def optimize(self, optimizer, loss):
        which = "d" if optimizer.optimizer is self.optimizers()[0].optimizer else "g"
        self.used_lrs[which].append(optimizer.param_groups[0]["lr"])
        super().optimize(optimizer, loss)


def test_linear_lr_decay_per_generator_iteration(tmp_path):
    four = type("Module", (), {"max_iterations": 4})()
    assert [linear_decay(four, i) for i in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    model = RecordsStepLRs(hidden=8, n_dis=2, max_iterations=4, lr_g=1e-3, lr_d=2e-3, lr_decay="linear")
    _trainer(tmp_path).fit(model, GaussianMixture2D(batch_size=8))
    # the LR changes once per generator iteration (n_dis D steps + 1 G step), not once per D step
    assert model.used_lrs["d"] == pytest.approx([2e-3, 2e-3, 1.5e-3, 1.5e-3, 1e-3, 1e-3, 0.5e-3, 0.5e-3])
    assert model.used_lrs["g"] == pytest.approx([1e-3, 0.75e-3, 0.5e-3, 0.25e-3])
    assert [s.get_last_lr()[0] for s in model.lr_schedulers()] == pytest.approx([0.0, 0.0])
    constant = Toy2DGAN(hidden=8, max_iterations=3, lr_g=1e-3, lr_decay="none")
    _trainer(tmp_path).fit(constant, GaussianMixture2D(batch_size=8))
    assert constant.optimizers()[1].param_groups[0]["lr"] == 1e-3


def test_discriminator_step_is_algorithm_1():
    """D's loss is the GAN loss of D on the DAT-perturbed real and fake batches."""
    G, D = MLPGenerator(hidden=8), MLPDiscriminator(hidden=8)
    dat = DAT(eps=0.5, data_range=None)
    model = GAN(G, D, loss="hinge", perturbation=dat)
    real = torch.randn(16, 2)
    torch.manual_seed(3)
    loss, _, _ = model.discriminator_step(real)
    torch.manual_seed(3)
    fake = G(torch.randn(16, 2)).detach()
    real_adv, fake_adv = dat(D, real, fake)
    expected = get_loss("hinge").discriminator_loss(D(real_adv)[:, 0], D(fake_adv)[:, 0])
    torch.testing.assert_close(loss, expected)
    clean = get_loss("hinge").discriminator_loss(D(real)[:, 0], D(fake)[:, 0])
    assert not torch.allclose(loss, clean)


def test_generator_step_is_unperturbed_unless_asked():
    torch.manual_seed(0)
    G, D = MLPGenerator(hidden=8), MLPDiscriminator(hidden=8)
    real = torch.randn(16, 2)
    losses = {}
    for where in ("discriminator", "generator"):
        model = GAN(G, D, perturbation=DAT(eps=5.0, data_range=None), perturb_in=where)
        torch.manual_seed(1)
        losses[where] = model.generator_step(real)
    torch.manual_seed(1)
    plain = GAN(G, D).generator_step(real)
    torch.testing.assert_close(losses["discriminator"], plain)
    assert not torch.allclose(losses["generator"], plain)


def test_strategy_gets_the_module_loss_without_mutating_the_caller():
    dat = DAT(variant="sample", data_range=None)
    model = Toy2DGAN(hidden=8, loss="hinge", perturbation=dat)
    assert dat.loss is None and model.perturbation.loss.name == "hinge"


def test_checkpoint_round_trip_keeps_counters_and_resumes(tmp_path):
    model = Toy2DGAN(hidden=8, n_dis=2, max_iterations=3, perturbation=DAT(eps=0.5, data_range=None))
    trainer = _trainer(tmp_path, enable_checkpointing=True)
    trainer.fit(model, GaussianMixture2D(batch_size=8))
    ckpt = tmp_path / "done.ckpt"
    trainer.save_checkpoint(ckpt)

    loaded = Toy2DGAN.load_from_checkpoint(ckpt)
    assert loaded.generator_iterations == 3 and loaded.discriminator_steps == 6
    assert isinstance(loaded.perturbation, DAT) and loaded.perturbation.eps == 0.5
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)

    longer = Toy2DGAN(hidden=8, n_dis=2, max_iterations=5, perturbation=DAT(eps=0.5, data_range=None))
    resumed = _trainer(tmp_path)
    resumed.fit(longer, GaussianMixture2D(batch_size=8), ckpt_path=ckpt)
    assert longer.generator_iterations == 5
    assert _adam_steps(longer.optimizers()[1].optimizer) == 5


def test_resuming_with_a_longer_horizon_decays_to_the_new_end(tmp_path):
    """Extending a finished 3-iteration run to 6: the LR follows 1 - t/6 from t = 3 (not the saved
    horizon, which would leave it at 0 and the weights frozen)."""
    model = Toy2DGAN(hidden=8, n_dis=1, max_iterations=3, lr_g=1e-3, lr_d=2e-3, lr_decay="linear")
    trainer = _trainer(tmp_path)
    trainer.fit(model, GaussianMixture2D(batch_size=8))
    trainer.save_checkpoint(tmp_path / "short.ckpt")
    longer = RecordsStepLRs(hidden=8, n_dis=1, max_iterations=6, lr_g=1e-3, lr_d=2e-3, lr_decay="linear")
    _trainer(tmp_path).fit(longer, GaussianMixture2D(batch_size=8), ckpt_path=tmp_path / "short.ckpt")
    assert longer.generator_iterations == 6
    assert longer.used_lrs["g"] == pytest.approx([0.5e-3, 1e-3 / 3, 1e-3 / 6])
    assert longer.used_lrs["d"] == pytest.approx([1e-3, 2e-3 / 3, 2e-3 / 6])
    assert any(not torch.equal(a, b) for a, b in zip(model.generator.parameters(), longer.generator.parameters()))
    assert [s.get_last_lr()[0] for s in longer.lr_schedulers()] == pytest.approx([0.0, 0.0])


def test_sample_shape_and_argument_check():
    model = Toy2DGAN(hidden=8)
    assert model.sample(7).shape == (7, 2)
    assert model.sample(z=torch.zeros(3, 2)).shape == (3, 2)
    with pytest.raises(ValueError, match="exactly one of n"):
        model.sample()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"loss": "wgan"}, r"Unknown loss 'wgan': choose one of"),
        ({"n_dis": 0}, r"n_dis=0 is invalid; use an integer >= 1"),
        ({"max_iterations": 0}, r"max_iterations=0 is invalid"),
        ({"lr_g": -1.0}, r"lr_g=-1.0 is invalid; use a positive learning rate"),
        ({"lr_decay": "cosine"}, r"lr_decay='cosine' is invalid; use one of \('linear', 'none'\)"),
        ({"perturb_in": "both"}, r"perturb_in='both' is invalid"),
        ({"perturbation": "dat"}, r"perturbation='dat' is invalid; use a strategy"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Toy2DGAN(hidden=8, **kwargs)


class OwnGenerator(torch.nn.Module):
    """A user's own G: not a nets.Generator, but with the interface GAN needs."""

    latent_dim = 3

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(3, 2)

    def sample_latent(self, n, device=None):
        return torch.randn(n, self.latent_dim, device=device)

    def forward(self, z):
        return self.net(z)


class OwnDiscriminator(torch.nn.Module):
    def __init__(self, outputs=1):
        super().__init__()
        self.net = torch.nn.Linear(2, outputs)

    def forward(self, x):
        return self.net(x)


def test_custom_nets_are_checked_in_the_constructor_with_one_sentence():
    interface = r"give it an integer `latent_dim` and a `sample_latent\(n, device\)` method"
    with pytest.raises(ValueError, match=rf"generator='Linear' is invalid; {interface}"):
        GAN(torch.nn.Linear(2, 2), MLPDiscriminator())
    no_sampler = OwnGenerator()
    no_sampler.sample_latent = None
    with pytest.raises(ValueError, match=rf"generator='OwnGenerator' is invalid; {interface}"):
        GAN(no_sampler, OwnDiscriminator())
    with pytest.raises(ValueError, match=r"discriminator='OwnDiscriminator' is invalid; it returned \(2, 4\) for 2 samples; return one logit per sample"):
        GAN(OwnGenerator(), OwnDiscriminator(outputs=4))
    with pytest.raises(ValueError, match=r"discriminator='Linear' is invalid; D\(G\(z\)\) failed on 2 samples of OwnGenerator \(RuntimeError: mat1"):
        GAN(OwnGenerator(), torch.nn.Linear(5, 1))
    with pytest.raises(ValueError, match=r"betas_g=\(0.5,\) is invalid; use two numbers in \[0, 1\)"):
        GAN(OwnGenerator(), OwnDiscriminator(), betas_g=(0.5,))


def test_checking_the_nets_leaves_the_random_stream_and_the_nets_as_they_were():
    G, D = MLPGenerator(hidden=8), torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1))
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    before = {k: v.clone() for k, v in D.state_dict().items()}
    GAN(G, D)
    assert torch.equal(torch.rand(3), expected) and D.training and G.training
    assert all(torch.equal(v, before[k]) for k, v in D.state_dict().items())  # no BatchNorm statistics moved


def test_a_checkpoint_of_your_own_nets_loads_when_you_pass_them_again(tmp_path):
    model = GAN(OwnGenerator(), OwnDiscriminator(), max_iterations=2, perturbation=DAT(eps=0.1, data_range=None))
    trainer = _trainer(tmp_path)
    trainer.fit(model, GaussianMixture2D(batch_size=8))
    trainer.save_checkpoint(tmp_path / "own.ckpt")
    loaded = GAN.load_from_checkpoint(tmp_path / "own.ckpt", generator=OwnGenerator(), discriminator=OwnDiscriminator())
    assert loaded.generator_iterations == 2 and loaded.perturbation.eps == 0.1
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in loaded.state_dict().items())


def test_ema_generator_averages_weights_and_is_used_for_sampling(tmp_path):
    model = Toy2DGAN(hidden=8, max_iterations=1, ema_decay=0.5)
    fast = _trainer(tmp_path)
    fast.fit(model, GaussianMixture2D(batch_size=16))
    ema = model.generator_ema.module
    after_first = [p.detach().clone() for p in model.generator.parameters()]
    assert all(torch.equal(e, p) for e, p in zip(ema.parameters(), after_first))  # first update copies
    with torch.no_grad():  # a second update moves half-way to G's new weights
        for p in model.generator.parameters():
            p.add_(1.0)
    model.generator_ema.update_parameters(model.generator)
    assert all(torch.allclose(e, p + 0.5) for e, p in zip(ema.parameters(), after_first))
    z = torch.randn(5, 2)
    assert torch.equal(model.sample(z=z), ema(z)) and not torch.allclose(model.sample(z=z), model.generator(z))
    assert not any(p.requires_grad for p in ema.parameters())


def test_ema_is_checkpointed(tmp_path):
    model = Toy2DGAN(hidden=8, max_iterations=2, ema_decay=0.9)
    trainer = _trainer(tmp_path)
    trainer.fit(model, GaussianMixture2D(batch_size=16))
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    loaded = Toy2DGAN.load_from_checkpoint(tmp_path / "m.ckpt")
    z = torch.randn(4, 2)
    assert torch.equal(loaded.sample(z=z), model.sample(z=z))


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5])
def test_bad_ema_decay(decay):
    with pytest.raises(ValueError, match=rf"ema_decay={decay!r} is invalid; use a decay in \(0, 1\)"):
        Toy2DGAN(ema_decay=decay)


def test_regularizers_add_their_terms_to_the_discriminator_loss():
    """GAN(regularizers=[R1, GP]) adds each term, computed on the (perturbed) batches D's loss saw."""
    from datgan_lightning.regularizers import GP, R1

    torch.manual_seed(0)
    G, D = MLPGenerator(hidden=8), MLPDiscriminator(hidden=8)
    r1, gp = R1(weight=2.0), GP(weight=3.0)
    model = GAN(G, D, loss="hinge", regularizers=[r1, gp])
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    loss, d_real, d_fake = model.objective.discriminator_loss(D, real, fake)
    torch.manual_seed(1)
    expected_terms = r1(D, real, fake, d_real, d_fake)
    torch.manual_seed(1)
    loss_again, _, _ = model.objective.discriminator_loss(D, real, fake)
    torch.manual_seed(1)
    expected = get_loss("hinge").discriminator_loss(d_real, d_fake) + expected_terms + gp(D, real, fake, d_real, d_fake)
    torch.testing.assert_close(loss_again, expected)
    assert float(expected_terms) > 0


def test_lazy_regularizer_applies_every_kth_step_scaled_by_k():
    from datgan_lightning.regularizers import R1

    G, D = MLPGenerator(hidden=8), MLPDiscriminator(hidden=8)
    model = GAN(G, D, loss="hinge", regularizers=[R1(weight=1.0, every=3)])
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    d_real, d_fake = D(real)[:, 0], D(fake)[:, 0]
    term = R1(weight=1.0)(D, real, fake, d_real, d_fake)
    seen = []
    for step in range(6):
        seen.append(float(model.objective.regularization(D, real, fake, d_real, d_fake, step)))
    assert seen == pytest.approx([3 * float(term), 0, 0, 3 * float(term), 0, 0])


def test_regularized_gan_trains_and_checkpoints_its_regularizers(tmp_path):
    from datgan_lightning.adversarial import DATT
    from datgan_lightning.regularizers import AR, GP

    model = Toy2DGAN(hidden=8, n_dis=2, max_iterations=2, perturbation=DATT(eps=0.5, data_range=None), regularizers=[GP(), AR(eps=0.01)])
    assert model.regularizers[1].loss.name == "ns"  # filled in from the module
    trainer = _trainer(tmp_path)
    trainer.fit(model, GaussianMixture2D(batch_size=8))
    trainer.save_checkpoint(tmp_path / "r.ckpt")
    loaded = Toy2DGAN.load_from_checkpoint(tmp_path / "r.ckpt")
    assert [type(r).__name__ for r in loaded.regularizers] == ["GP", "AR"] and loaded.regularizers[1].eps == 0.01
    torch.load(tmp_path / "r.ckpt", weights_only=True)  # plain data only


def test_bad_regularizer_and_datt_outside_the_discriminator_step_are_one_sentence():
    from datgan_lightning.adversarial import DATT

    with pytest.raises(ValueError, match=r"regularizers='R1' is invalid; list regularizers from datgan_lightning.regularizers"):
        Toy2DGAN(hidden=8, regularizers=["R1"])
    with pytest.raises(ValueError, match=r"perturb_in='all' is invalid; DATT returns clean and perturbed samples together"):
        Toy2DGAN(hidden=8, perturbation=DATT(data_range=None), perturb_in="all")


class LabelEcho(torch.nn.Module):
    """A class-conditional 'generator' whose output's first coordinate is the label (checkable)."""

    latent_dim, num_classes = 2, 3

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))

    def sample_latent(self, n, device=None):
        return torch.randn(n, self.latent_dim, device=device)

    def sample_labels(self, n, device=None, generator=None):
        return torch.randint(self.num_classes, (n,), generator=generator).to(device)

    def forward(self, z, labels):
        return torch.stack([labels.float(), self.scale * z[:, 0]], dim=1)


def test_conditional_sampling_takes_labels_or_draws_them_from_the_prior():
    model = GAN(LabelEcho(), MLPDiscriminator(hidden=8))
    assert model.sample(4, labels=torch.tensor([2, 0, 1, 2]))[:, 0].tolist() == [2.0, 0.0, 1.0, 2.0]
    drawn = model.sample(3000)[:, 0]
    counts = torch.bincount(drawn.long(), minlength=3).float() / 3000
    assert torch.allclose(counts, torch.full((3,), 1 / 3), atol=0.04)
    with pytest.raises(ValueError, match=r"invalid for a generator of 3 classes; use integers in \[0, 2\]"):
        model.sample(2, labels=torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"one class index per sample \(2 here\)"):
        model.sample(2, labels=torch.tensor([0]))
    with pytest.raises(ValueError, match="is unconditional; drop them"):
        Toy2DGAN(hidden=8).sample(2, labels=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="is class-conditional but its data has no labels"):
        model.unpack_batch(torch.randn(4, 2))


def test_conditional_sample_grid_has_one_row_per_class():
    from datgan_lightning.callbacks import SampleGrid

    model = GAN(LabelEcho(), MLPDiscriminator(hidden=8))
    seen = {}

    def sample(z=None, labels=None):
        seen["labels"] = labels
        return torch.zeros(len(z), 3, 2, 2)

    model.sample = sample
    SampleGrid(nrow=4).grid(model)
    assert seen["labels"].tolist() == [0] * 4 + [1] * 4 + [2] * 4


def test_augmentations_make_every_d_call_see_augmented_images_and_reach_g():
    """GAN(augmentations=[T]) trains D∘T: the D loss, the G loss (with gradient to G through T), the
    perturbation's attack and the regularizers all call D on T(x); ``observe`` sees D's real logits."""
    from datgan_lightning.augmentations import Augmentation
    from datgan_lightning.regularizers import R1

    class Shift(Augmentation):
        def __init__(self):
            super().__init__()
            self.observed = []

        def forward(self, images):
            return images + 10.0

        def observe(self, d_real):
            self.observed.append(d_real)

    torch.manual_seed(0)
    G, D = MLPGenerator(hidden=8), MLPDiscriminator(hidden=8)
    inputs = []
    D.register_forward_pre_hook(lambda m, args: inputs.append(args[0].detach()))
    shift = Shift()
    model = GAN(G, D, perturbation=DAT(eps=0.1, data_range=None), regularizers=[R1(weight=1.0)], augmentations=[shift])
    inputs.clear()  # the constructor's check of the nets ran D once, without T
    real = torch.randn(8, 2)
    loss, d_real, _ = model.discriminator_step(real)
    assert len(inputs) == 3 and all(x.mean() > 5 for x in inputs)  # DAT's attack, the loss, R1: all on T(x)
    model.objective.observe(d_real)  # the module's training_step does this once per D step
    assert torch.equal(shift.observed[-1], d_real.detach())
    inputs.clear()
    g_loss = model.generator_step(real)
    g_loss.backward()
    assert inputs[0].mean() > 5 and all(p.grad is not None for p in G.parameters())
    assert [k for k in model.state_dict() if "discriminator" in k] == [f"discriminator.{k}" for k in D.state_dict()]  # D once
    with pytest.raises(ValueError, match="augmentations='flip' is invalid; list augmentations from datgan_lightning.augmentations"):
        GAN(MLPGenerator(), MLPDiscriminator(), augmentations=["flip"])


def test_step_logs_are_written_every_log_every_n_steps_batches(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    logger = CSVLogger(tmp_path, name="logs")
    model = Toy2DGAN(hidden=8, n_dis=1, max_iterations=7)
    _trainer(tmp_path, logger=logger, log_every_n_steps=3).fit(model, GaussianMixture2D(batch_size=8))
    iterations = [float(r["generator_iterations"]) for r in logged_rows(logger, "loss/d")]
    assert iterations == [3.0, 6.0, 7.0]  # batches 3 and 6, and the last one (training stops)


class CountingDAT(DAT):
    """DAT with a perturbation diagnostic: its log_values() says how often the module asked for it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.asked = 0

    def log_values(self):
        self.asked += 1
        return {"asked": float(self.asked), "step_mean": torch.tensor(0.25)}


def test_a_perturbation_with_log_values_is_logged_under_perturbation_on_logged_steps_only(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    logger = CSVLogger(tmp_path, name="logs")
    model = Toy2DGAN(hidden=8, n_dis=1, max_iterations=7, perturbation=CountingDAT(eps=0.1, data_range=None))
    _trainer(tmp_path, logger=logger, log_every_n_steps=3).fit(model, GaussianMixture2D(batch_size=8))
    rows = logged_rows(logger, "loss/d")
    assert [float(r["perturbation/asked"]) for r in rows] == [1.0, 2.0, 3.0]  # asked on steps 3, 6, 7 only
    assert all(float(r["perturbation/step_mean"]) == 0.25 for r in rows)
    assert model.perturbation.asked == 3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lr_g": float("nan")}, r"lr_g=nan is not a finite number"),
        ({"max_iterations": float("inf")}, r"max_iterations=inf is not a finite number"),
        ({"betas_g": (0.5, 1.5)}, r"betas_g=\(0.5, 1.5\) is invalid; use two numbers in \[0, 1\)"),
    ],
)
def test_non_finite_or_out_of_range_options_are_one_sentence(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Toy2DGAN(hidden=8, **kwargs)


@pytest.mark.parametrize("n", [0, -3, 2.5])
def test_sample_needs_a_positive_integer(n):
    with pytest.raises(ValueError, match=rf"sample: n={n!r} is invalid"):
        Toy2DGAN(hidden=8).sample(n)
