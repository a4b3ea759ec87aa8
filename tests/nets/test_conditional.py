"""Conditional nets: conditional BatchNorm picks class k's scale and shift; the conditional G, the
AC-GAN D (forward = real/fake logit) and the projection D (needs labels)."""

import pytest
import torch
from torch.nn.utils import parametrize

from datgan_lightning.nets.conditional import (
    ConditionalBatchNorm2d,
    ac_discriminator,
    generator32,
    generator64,
    projection_discriminator,
)


def test_conditional_batchnorm_uses_the_labels_class_parameters():
    bn = ConditionalBatchNorm2d(3, num_classes=4)
    with torch.no_grad():
        bn.gamma.weight.copy_(torch.arange(12.0).view(4, 3) + 1)
        bn.beta.weight.copy_(-torch.arange(12.0).view(4, 3))
    x = torch.randn(5, 3, 4, 4)
    labels = torch.tensor([2, 0, 3, 2, 1])
    normalized = torch.nn.functional.batch_norm(x, None, None, training=True, eps=2e-5)  # Rob-GAN's eps
    expected = bn.gamma.weight[labels][:, :, None, None] * normalized + bn.beta.weight[labels][:, :, None, None]
    torch.testing.assert_close(bn(x, labels), expected)
    # class 2's output does not depend on class 0's parameters, but does on its own
    out = bn(x, labels)
    with torch.no_grad():
        bn.gamma.weight[0] += 5
    out2 = bn(x, labels)
    assert torch.equal(out[labels == 2], out2[labels == 2]) and not torch.equal(out[1], out2[1])


def test_conditional_batchnorm_running_statistics_follow_rob_gans_decay():
    """Rob-GAN's CatCondBatchNorm2d passes decay 0.9 as F.batch_norm's momentum: after one batch the
    running mean is 0.1 * 0 + 0.9 * batch mean."""
    bn = ConditionalBatchNorm2d(2, num_classes=3)
    x = torch.randn(6, 2, 3, 3) + 4.0
    bn(x, torch.zeros(6, dtype=torch.long))
    torch.testing.assert_close(bn.bn.running_mean, 0.9 * x.mean(dim=(0, 2, 3)))


@pytest.mark.parametrize("make,size", [(generator32, 32), (generator64, 64)])
def test_conditional_generator_shapes_labels_and_bad_labels(make, size):
    G = make(num_classes=5, ngf=2)
    assert G.num_classes == 5 and G.output_shape == (3, size, size)
    z = G.sample_latent(4)
    G.eval()
    a = G(z, torch.tensor([0, 1, 2, 3]))
    assert a.shape == (4, 3, size, size)
    with torch.no_grad():
        G.blocks[0].b1.beta.weight[4] += 1.0
    assert not torch.equal(G(z, torch.tensor([4, 1, 2, 3]))[0], a[0])
    with pytest.raises(ValueError, match=r"use integers in \[0, 4\]"):
        G(z, torch.tensor([0, 1, 2, 5]))


def test_paper_sizes():
    G, D = generator32(), ac_discriminator(32, 10)
    assert G.channels == [1024, 512, 256, 128, 64] and D.channels == [128] * 4
    assert ac_discriminator(64, 143).channels == [64, 128, 256, 512, 1024]


def test_ac_discriminator_forward_is_the_real_fake_logit_and_classify_the_class_logits():
    D = ac_discriminator(32, num_classes=7, ndf=2)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    logit, classes = D.forward_both(x)
    assert logit.shape == (3, 1) and classes.shape == (3, 7)
    torch.testing.assert_close(D(x), logit)
    torch.testing.assert_close(D.classify(x), classes)
    head = {id(p) for p in D.l_out.parameters()}
    assert not any(id(p) in head for p in D.classifier_parameters())
    assert len(D.classifier_parameters()) == len(list(D.parameters())) - 2


def test_spectral_norm_is_optional():
    assert not any(parametrize.is_parametrized(m) for m in ac_discriminator(32, 3, ndf=2).modules())
    assert any(parametrize.is_parametrized(m) for m in ac_discriminator(32, 3, ndf=2, spectral_norm=True).modules())


def test_projection_discriminator_adds_the_label_embedding_and_refuses_no_labels():
    D = projection_discriminator(32, num_classes=4, ndf=2)
    x, y = torch.rand(3, 3, 32, 32) * 2 - 1, torch.tensor([0, 3, 1])
    D.eval()
    h = D.features(x)
    expected = D.trunk.l_out(h) + (D.embed.weight[y] * h).sum(1, keepdim=True)
    torch.testing.assert_close(D(x, y), expected)
    with pytest.raises(ValueError, match="needs labels"):
        D(x)
