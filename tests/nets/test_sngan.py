import pytest
import torch
from torch.nn import functional as F
from torch.nn.utils import parametrize

from datgan_lightning.nets.sngan import (
    SNGANDiscriminator32,
    SNGANDiscriminator48,
    SNGANDiscriminator64,
    SNGANGenerator32,
    SNGANGenerator48,
    SNGANGenerator64,
)
from datgan_lightning.nets.sngan.resblocks import DBlock, upsample

NETS = {32: (SNGANGenerator32, SNGANDiscriminator32), 48: (SNGANGenerator48, SNGANDiscriminator48), 64: (SNGANGenerator64, SNGANDiscriminator64)}
# Mimicry's widths, counted by hand from its layers (SNGAN-32: G 4.28M, D 1.05M); spectral norm adds buffers, not parameters
PARAMS = {32: (4_276_739, 1_053_825), 48: (4_878_083, 10_141_441), 64: (12_220_675, 10_141_441)}


def _count(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("resolution", sorted(NETS))
def test_parameter_counts_match_mimicry(resolution):
    G, D = NETS[resolution]
    assert (_count(G()), _count(D())) == PARAMS[resolution]


@pytest.mark.parametrize("resolution", sorted(NETS))
def test_tiny_shapes(resolution):
    G, D = NETS[resolution]
    g = G(latent_dim=16, ngf=32)
    d = D(ndf=32)
    x = g(g.sample_latent(3))
    assert x.shape == (3, 3, resolution, resolution) and x.abs().max() <= 1
    assert d(x).shape == (3, 1)


def test_spectral_norm_on_every_discriminator_layer_and_none_in_generator():
    d, g = SNGANDiscriminator32(ndf=8), SNGANGenerator32(ngf=8)
    layers = [m for m in d.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    assert not any(parametrize.is_parametrized(m) for m in g.modules())


def test_mimicry_relu_shortcut_quirk():
    torch.manual_seed(0)
    block = DBlock(4, 4, relu_shortcut=True).eval()
    x = torch.randn(2, 4, 8, 8)
    residual_only = block(x) - torch.relu(x)  # no learnable shortcut: out = residual + relu(x)
    block.relu_shortcut = False
    torch.testing.assert_close(block(x) - x, residual_only)


def test_too_small_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"SNGANDiscriminator32 got input of shape \(2, 3, 2, 2\); it needs .* H, W >= 4"):
        SNGANDiscriminator32(ndf=8)(torch.zeros(2, 3, 2, 2))


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_generator_upsampling_is_bilinear_2x_in_either_memory_format(memory_format):
    x = torch.randn(3, 5, 6, 7).contiguous(memory_format=memory_format).requires_grad_()
    reference = x.detach().clone().requires_grad_()
    y = upsample(x)
    expected = F.interpolate(reference, scale_factor=2, mode="bilinear", align_corners=False)
    assert y.is_contiguous(memory_format=memory_format)
    assert torch.equal(y, expected)  # the CPU channels_last route changes speed, not values
    grad = torch.randn_like(y)
    y.backward(grad)
    expected.backward(grad)
    assert torch.allclose(x.grad, reference.grad, atol=1e-6)
