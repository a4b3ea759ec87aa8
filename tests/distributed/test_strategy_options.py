"""gan_ddp's options and refusals, in process (no process group needed): DDP-wrapper options it would
ignore, and an attack on a discriminator whose BatchNorm is not synchronised."""

import pytest
import torch
from torch import nn

from datgan_lightning.adversarial import DAT, PGD
from datgan_lightning.distributed import GANDDPStrategy, GlobalBatchNorm, check_attack_batch_norm
from datgan_lightning.errors import ConfigurationError
from datgan_lightning.modules import GAN
from datgan_lightning.utils import global_means
from tests.distributed.ddp_train import TinyGenerator, spectral_d


@pytest.mark.parametrize("option, value", [("static_graph", True), ("bucket_cap_mb", 50), ("ddp_comm_hook", print),
                                           ("find_unused_parameters", True), ("model_averaging_period", 4)])
def test_ddp_wrapper_options_are_refused_in_one_sentence(option, value):
    with pytest.raises(ValueError, match=rf"^gan_ddp {option}=.* is invalid; gan_ddp averages gradients itself.*remove it") as error:
        GANDDPStrategy(**{option: value})
    assert "\n" not in str(error.value)


def test_its_own_options_are_accepted():
    strategy = GANDDPStrategy(broadcast_buffers=False, process_group_backend="gloo", timeout=None, start_method="popen")
    assert strategy.broadcast_buffers is False and strategy.process_group_backend == "gloo"


def test_an_attack_on_unsynchronised_batchnorm_is_refused_naming_sync_batchnorm():
    gan = GAN(TinyGenerator(), spectral_d(batchnorm=True), perturbation=DAT())
    with pytest.raises(ConfigurationError, match=r"discriminator has BatchNorm2d and DAT attacks each rank's own rows.*sync_batchnorm=True"):
        check_attack_batch_norm(gan)
    gan.discriminator = nn.SyncBatchNorm.convert_sync_batchnorm(gan.discriminator)  # what sync_batchnorm does
    check_attack_batch_norm(gan)
    gan.discriminator[3].__class__ = GlobalBatchNorm  # and gan_ddp on CPU
    check_attack_batch_norm(gan)


@pytest.mark.parametrize("model", [lambda: GAN(TinyGenerator(), spectral_d(batchnorm=True)),  # no attack
                                   lambda: GAN(TinyGenerator(), spectral_d(), perturbation=DAT()),  # no BatchNorm
                                   lambda: GAN(TinyGenerator(), spectral_d(batchnorm=True), perturbation=PGD())])  # eval-mode D: running statistics
def test_what_is_not_concerned_passes(model):
    check_attack_batch_norm(model())


def test_global_means_outside_a_process_group_are_the_means():
    x = torch.randn(5, requires_grad=True)
    (mean,) = global_means(x)
    mean.backward()
    assert torch.equal(mean, x.mean()) and torch.equal(x.grad, torch.full((5,), 0.2))


def test_only_buffers_that_can_diverge_are_resent_every_step():
    from datgan_lightning.distributed import divergent_buffers
    from datgan_lightning.modules import SNGAN

    gan = SNGAN(ngf=4, ndf=4, ema_decay=0.9)
    batchnorm = {id(b) for m in gan.modules() if isinstance(m, nn.BatchNorm2d) for b in m.buffers(recurse=False)}
    resent = {id(b) for b in divergent_buffers(gan)}
    assert resent == batchnorm  # G's and its EMA copy's BatchNorm statistics; not spectral norm's u, not the EMA count
    assert divergent_buffers(nn.SyncBatchNorm.convert_sync_batchnorm(gan)) == []  # synchronised: identical by construction
    old_style = nn.utils.spectral_norm(nn.Linear(2, 2))
    own = nn.Module()
    own.register_buffer("count", torch.zeros(()))
    assert divergent_buffers(old_style) == [] and divergent_buffers(own) == [own.count]  # an unknown buffer is resent


def test_copy_all_is_copy_with_or_without_the_fused_kernel(monkeypatch):
    from datgan_lightning.distributed import copy_all

    sources = [torch.randn(3), torch.randn(2, 2)]
    for fused in (True, False):
        if not fused:
            monkeypatch.delattr(torch, "_foreach_copy_")
        targets = [torch.zeros(3), torch.zeros(2, 2)]
        copy_all(targets, sources)
        assert all(torch.equal(t, s) for t, s in zip(targets, sources))
