"""RobGAN and RobGANFinetune: the split and AC-GAN losses by hand, the co-training attack (eps-ball,
D's mode), fine-tuning touches only the classifier, one iteration of each, clear label errors."""

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from datgan_lightning.modules import RobGAN, RobGANFinetune
from datgan_lightning.modules.robgan import real_loss
from tests.conftest import fast_trainer, logged_rows

K = 3


class StubD(nn.Module):
    """A tiny D with fixed outputs: real/fake logit 2, class logits [1, 0, 0] (input-independent)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward_both(self, x):
        n = len(x)
        logit = torch.full((n, 1), 2.0) + 0 * self.w + 0 * x.sum((1, 2, 3), keepdim=False)[:, None]
        return logit, torch.tensor([[1.0, 0.0, 0.0]]).repeat(n, 1) + 0 * self.w

    def forward(self, x):
        return self.forward_both(x)[0]


def _ce(y):  # CE of class logits [1, 0, 0] at label y
    return -math.log((math.e if y == 0 else 1.0) / (math.e + 2))


def _gan(**kwargs):
    return RobGAN(num_classes=K, ngf=2, ndf=2, **kwargs)


@pytest.mark.parametrize("class_loss", ["split", "acgan"])
def test_discriminator_loss_by_hand(class_loss, monkeypatch):
    gan = _gan(class_loss=class_loss, attack_steps=0)
    gan.discriminator = StubD()
    fake_labels = torch.tensor([1, 2])
    monkeypatch.setattr(gan.generator, "sample_labels", lambda n, device=None: fake_labels)
    loss, d_real, d_fake = gan.discriminator_step(torch.zeros(2, 3, 32, 32), torch.tensor([0, 1]))
    bce_1, bce_0 = math.log(1 + math.exp(-2)), math.log(1 + math.exp(2))  # BCE(2, target 1), BCE(2, target 0)
    real = 0.5 * bce_1 + 0.5 * (_ce(0) + _ce(1)) / 2
    fake = bce_0 if class_loss == "split" else 0.5 * bce_0 + 0.5 * (_ce(1) + _ce(2)) / 2
    assert loss.item() == pytest.approx(real + fake, rel=1e-6)
    assert d_real.shape == d_fake.shape == (2,)


def test_generator_loss_by_hand(monkeypatch):
    gan = _gan()
    gan.discriminator = StubD()
    monkeypatch.setattr(gan.generator, "sample_labels", lambda n, device=None: torch.tensor([0, 2]))
    loss = gan.generator_step(torch.zeros(2, 3, 32, 32))
    expected = 0.5 * math.log(1 + math.exp(-2)) + 0.5 * (_ce(0) + _ce(2)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("training", [True, False])
def test_attack_stays_in_the_ball_raises_the_real_loss_and_restores_mode(training):
    gan = _gan(attack_eps=0.05, attack_steps=5, attack_step_size=0.02)
    D = gan.discriminator.train(training)
    modes = []
    D.blocks[0].register_forward_pre_hook(lambda m, args: modes.append(m.training))  # forward_both skips D's own hooks
    real, labels = torch.rand(4, 3, 32, 32) * 2 - 1, torch.tensor([0, 1, 2, 0])
    adv = gan.attack(real, labels)
    assert (adv - real).abs().max() <= 0.05 + 1e-6 and adv.min() >= -1 and adv.max() <= 1
    assert not torch.equal(adv, real)
    assert D.training is training and modes == [False] * 5
    with torch.no_grad():
        assert real_loss(*D.forward_both(adv), labels) > real_loss(*D.forward_both(real), labels)


def _labelled_loader(n=10, labels=None):
    x = torch.rand(n, 3, 32, 32) * 2 - 1
    y = torch.arange(n) % K if labels is None else labels
    return DataLoader(TensorDataset(x, y), batch_size=2)


@pytest.mark.parametrize("class_loss", ["split", "acgan"])
def test_one_iteration(class_loss, tmp_path):
    gan = _gan(class_loss=class_loss, max_iterations=1)
    fast_trainer(tmp_path).fit(gan, _labelled_loader())
    assert gan.generator_iterations == 1


@pytest.mark.parametrize("labels,message", [(torch.full((10,), -1), "has no labels"), (torch.full((10,), K), r"use integers in \[0, 2\]")])
def test_unlabelled_data_or_labels_out_of_range_are_one_sentence(labels, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        fast_trainer(tmp_path).fit(_gan(max_iterations=1), _labelled_loader(labels=labels))


def test_refuses_a_perturbation_or_another_loss():
    with pytest.raises(ValueError, match="its own PGD"):
        _gan(loss="hinge")


def test_refuses_augmentations_its_losses_would_skip():
    from datgan_lightning.augmentations import DiffAugment

    with pytest.raises(ValueError, match="augmentations are not supported by RobGAN"):
        _gan(augmentations=[DiffAugment()])


def _finetuned(tmp_path, **kwargs):
    ft = RobGANFinetune(num_classes=K, ngf=2, ndf=2, max_iterations=2, **kwargs)
    before = {k: v.clone() for k, v in ft.state_dict().items()}
    fast_trainer(tmp_path).fit(ft, _labelled_loader())
    assert ft.generator_iterations == 2
    return before, ft.state_dict()


def test_finetuning_changes_only_the_classifier(tmp_path):
    before, after = _finetuned(tmp_path)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("discriminator.") and not k.startswith("discriminator.l_out") for k in changed)
    assert "discriminator.l_class.weight" in changed and "discriminator.blocks.0.c1.weight" in changed


def test_finetuning_the_head_changes_only_the_class_head(tmp_path):
    before, after = _finetuned(tmp_path, train="head")
    assert {k for k in before if not torch.equal(before[k], after[k])} == {"discriminator.l_class.weight", "discriminator.l_class.bias"}


def test_finetune_loads_the_co_trained_nets_and_their_sizes_when_it_starts(tmp_path):
    gan = _gan(max_iterations=1)
    trainer = fast_trainer(tmp_path)
    trainer.fit(gan, _labelled_loader())
    trainer.save_checkpoint(tmp_path / "robgan.ckpt")
    ft = RobGANFinetune(checkpoint=str(tmp_path / "robgan.ckpt"), ngf=64, max_iterations=1)  # nothing read yet
    assert ft.hparams.ngf == 64
    fast_trainer(tmp_path).fit(ft, _labelled_loader())  # setup loads the co-trained nets; the checkpoint's sizes win
    assert ft.hparams.ngf == 2 and ft.hparams.checkpoint is None
    for key, value in gan.state_dict().items():
        if key.startswith("generator."):
            assert torch.equal(ft.state_dict()[key], value), key
    assert torch.equal(ft.discriminator.l_out.weight, gan.discriminator.l_out.weight)  # the real/fake head is not trained
    trainer = fast_trainer(tmp_path)
    trainer.fit(ft, _labelled_loader())  # finished: nothing more to do
    trainer.save_checkpoint(tmp_path / "ft.ckpt")
    loaded = RobGANFinetune.load_from_checkpoint(tmp_path / "ft.ckpt")  # rebuilt from the recorded sizes, no co-training file needed
    assert all(torch.equal(v, ft.state_dict()[k]) for k, v in loaded.state_dict().items())


def test_finetune_stages_divide_the_lr_by_10():
    ft = RobGANFinetune(num_classes=K, ngf=2, ndf=2, lr=1e-3, stages=(20, 20, 10, 10), max_iterations=60)
    lrs = ft.stage_lrs()
    assert [lrs[s] for s in (0, 19, 20, 39, 40, 49, 50, 59)] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5, 1e-6, 1e-6])
    assert ft.milestones() == [20, 40, 50]
    uneven = RobGANFinetune(num_classes=K, ngf=2, ndf=2, stages=(20, 20, 10, 10), max_iterations=7)  # bounds 2.33, 4.67, 5.83
    assert uneven.milestones() == [3, 5, 6]


def test_finetune_starts_each_stage_with_fresh_adam_moments(tmp_path):
    ft = RobGANFinetune(num_classes=K, ngf=2, ndf=2, stages=(1, 1), max_iterations=3, train="head")
    fast_trainer(tmp_path).fit(ft, _labelled_loader())
    opt = ft.optimizers().optimizer
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-4)
    assert int(next(iter(opt.state.values()))["step"]) == 1  # stage 2 began at step 2 (ceil(1.5)) with a fresh Adam


@pytest.mark.parametrize("step_size, moved", [(None, 0.006), (0.01, 0.01)])
def test_finetune_attack_takes_steps_of_finetune_step_size(step_size, moved):
    ft = RobGANFinetune(num_classes=K, ngf=2, ndf=2, finetune_eps=0.03, finetune_steps=1, finetune_step_size=step_size)
    x = torch.zeros(2, 3, 32, 32)  # far from the [-1, 1] clamp: one sign step moves pixels by exactly the step size
    assert (ft.adversarial(x, torch.tensor([0, 2])) - x).abs().max().item() == pytest.approx(moved)


def test_clean_and_madry_configs_train_the_co_training_classifier_from_scratch_on_reals_only():
    """Rob-GAN Table 1's baselines: the same net as cifar10_subset_cpu.yaml's D, no checkpoint, no fakes (lam 0),
    Madry's PGD as the co-training attack (5 steps of 0.0078 in 0.03125) or none."""
    from datgan_lightning.cli import create_cli
    from tests.conftest import REPO

    def model(name):
        args = ["--config", str(REPO / "configs" / "robgan" / name), "--trainer.logger=false", "--trainer.callbacks=[]"]
        return create_cli(args, run=False).model

    cotrain, madry, clean = (model(f"cifar10_subset_cpu{s}.yaml") for s in ("", "_madry", "_clean"))
    for baseline in (madry, clean):
        assert type(baseline) is RobGANFinetune and baseline.lam == 0 and baseline.train_what == "classifier"
        assert [p.shape for p in baseline.discriminator.classifier_parameters()] == [p.shape for p in cotrain.discriminator.classifier_parameters()]
    assert (madry.finetune_eps, madry.finetune_steps, madry.finetune_step_size) == (cotrain.attack_eps, cotrain.attack_steps, cotrain.attack_step_size)
    assert clean.finetune_eps == 0


class LinearStubD(StubD):
    """StubD whose real/fake logit falls with every pixel: the real loss's gradient has one sign everywhere."""

    def forward_both(self, x):
        logit, classes = super().forward_both(x)
        return logit - 1e-3 * x.flatten(1).sum(1, keepdim=True), classes


def test_the_pgd_step_is_logged_in_grey_levels_on_logged_steps(tmp_path):
    """5 steps of 0.0078 projected on eps = 0.03125 move every real pixel by exactly eps (reals in
    [-0.5, 0.5] are never clamped): 0.03125 / (2/255) = 3.984375 grey levels, mean and max."""
    from lightning.pytorch.loggers import CSVLogger

    gan = _gan(max_iterations=2, n_dis=1)
    gan.discriminator = LinearStubD()
    logger = CSVLogger(tmp_path, name="logs")
    loader = DataLoader(TensorDataset(torch.rand(8, 3, 32, 32) - 0.5, torch.arange(8) % K), batch_size=2)
    fast_trainer(tmp_path, logger=logger, log_every_n_steps=2).fit(gan, loader)
    rows = logged_rows(logger, "perturbation/real/mean_grey")
    assert [float(r["generator_iterations"]) for r in rows] == [2.0]
    assert float(rows[0]["perturbation/real/mean_grey"]) == pytest.approx(3.984375, rel=1e-5)
    assert float(rows[0]["perturbation/real/max_grey"]) == pytest.approx(3.984375, rel=1e-5)
