"""The regularizers on the library's nets: spectral norm, BatchNorm, channels_last, DAT-perturbed batches;
and the penultimate ``features`` the nets expose for RFM."""

import pytest
import torch
from torch.nn.utils.parametrizations import spectral_norm

from datgan_lightning.adversarial import DAT
from datgan_lightning.losses import get_loss
from datgan_lightning.nets.dcgan import DCGANDiscriminator32
from datgan_lightning.nets.mlp import MLPDiscriminator
from datgan_lightning.nets.sngan import SNGANDiscriminator32
from datgan_lightning.regularizers import AR, GP, LP, R1, R2, RFM, ZeroGP
from datgan_lightning.utils import discriminate

REGULARIZERS = [GP(), LP(), ZeroGP(), R1(), R2(), AR(eps=0.01, loss="hinge"), RFM(eps=0.01, loss="hinge")]


class SNConvD(torch.nn.Module):
    """A small conv D with spectral norm on every layer."""

    def __init__(self):
        super().__init__()
        self.c1 = spectral_norm(torch.nn.Conv2d(3, 8, 4, 2, 1))
        self.c2 = spectral_norm(torch.nn.Conv2d(8, 16, 4, 2, 1))
        self.l_out = spectral_norm(torch.nn.Linear(16, 1))

    def features(self, x):
        return torch.nn.functional.leaky_relu(self.c2(torch.nn.functional.leaky_relu(self.c1(x), 0.2)), 0.2).sum((2, 3))

    def forward(self, x):
        return self.l_out(self.features(x))


def _d_step(D, reg, real, fake):
    """D's loss plus the term, backward; returns the term and D's parameter gradients."""
    D.zero_grad()
    d_real, d_fake = discriminate(D, real, fake)
    term = reg(D, real, fake, d_real, d_fake)
    (get_loss("hinge").discriminator_loss(d_real, d_fake) + term).backward()
    return term, {name: p.grad for name, p in D.named_parameters()}


def _images(n=4):
    return torch.rand(n, 3, 32, 32) * 2 - 1, torch.rand(n, 3, 32, 32) * 2 - 1


@pytest.mark.parametrize("reg", REGULARIZERS, ids=repr)
@pytest.mark.parametrize("make_d", [SNConvD, lambda: SNGANDiscriminator32(ndf=8), lambda: DCGANDiscriminator32(ndf=8)], ids=["sn_conv", "sngan", "dcgan_bn"])
def test_trains_with_spectral_norm_and_batch_norm(make_d, reg):
    D = make_d().train()
    term, grads = _d_step(D, reg, *_images())
    assert term.dim() == 0 and torch.isfinite(term) and (term > 0 or isinstance(reg, LP))  # LP: norms may all be < 1
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())


@pytest.mark.parametrize("reg", [R1(), GP(), AR(eps=0.01, loss="ns")], ids=repr)
def test_spectral_norm_penalty_gradient_reaches_the_original_weight(reg):
    # the regularizer alone (no GAN loss) moves the un-normalised weight of every SN layer
    D = SNConvD().train()
    reg(D, *_images(), None, None).backward()
    for name, p in D.named_parameters():
        if name.endswith("original"):
            assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("reg", [GP(), R1(), AR(eps=0.01, loss="ns"), RFM(eps=0.01, loss="ns")], ids=repr)
def test_channels_last_gives_the_same_term(reg):
    torch.manual_seed(0)
    D = DCGANDiscriminator32(ndf=8).eval()  # eval: BN uses running stats, so both calls see the same D
    real, fake = _images()
    torch.manual_seed(1)
    plain = reg(D, real, fake, None, None)
    D_cl = D.to(memory_format=torch.channels_last)
    torch.manual_seed(1)
    cl = reg(D_cl, real.to(memory_format=torch.channels_last), fake.to(memory_format=torch.channels_last), None, None)
    torch.testing.assert_close(cl, plain, rtol=1e-4, atol=1e-6)
    cl.backward()


@pytest.mark.parametrize("reg", REGULARIZERS, ids=repr)
def test_on_dat_perturbed_batches(reg):
    D = SNGANDiscriminator32(ndf=8).train()
    real, fake = DAT(eps=0.5)(D, *_images())
    term, grads = _d_step(D, reg, real, fake)
    assert torch.isfinite(term) and all(torch.isfinite(g).all() for g in grads.values())


def test_batch_norm_penalty_forward_uses_the_penalty_batch_statistics():
    # R1 at "real" on a BN D equals the penalty of a D forward on the reals alone (its own batch statistics)
    D = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
    real, fake = torch.randn(8, 2, dtype=torch.float64), torch.randn(8, 2, dtype=torch.float64)
    x = real.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x)
    torch.testing.assert_close(R1(weight=1.0)(D, real, fake, None, None).detach(), grad.pow(2).sum(1).mean())


def test_dcgan_features_feed_the_last_layer():
    D = DCGANDiscriminator32(ndf=8).eval()
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    phi = D.features(x)
    last = D.net[-1]
    assert phi.shape == (3, 4 * 8 * 16)
    torch.testing.assert_close(phi @ last.weight.flatten() + last.bias, D(x)[:, 0])
    with pytest.raises(ValueError, match=r"got input of shape \(2, 1, 28, 28\)"):
        D.features(torch.zeros(2, 1, 28, 28))


def test_mlp_features_feed_the_last_layer_and_names_are_unchanged():
    D = MLPDiscriminator(hidden=16)
    x = torch.randn(5, 2)
    assert D.features(x).shape == (5, 16)
    torch.testing.assert_close(D.net[-1](D.features(x)), D(x))
    assert list(D.state_dict()) == [f"net.{i}.{k}" for i in (0, 2, 4, 6) for k in ("weight", "bias")]
