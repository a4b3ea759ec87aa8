import pytest
import torch

from datgan_lightning.nets.dcgan import DCGANDiscriminator32, DCGANGenerator32


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_by_hand():
    # G: convT 100->256 (4x4, no bias) + BN 256 + convT 256->128 + BN 128 + convT 128->64 + BN 64 + convT 64->3 (+bias)
    g = 100 * 256 * 16 + 2 * 256 + 256 * 128 * 16 + 2 * 128 + 128 * 64 * 16 + 2 * 64 + 64 * 3 * 16 + 3
    # D: conv 3->64 (+bias) + conv 64->128 + BN + conv 128->256 + BN + conv 256->1 (+bias)
    d = 3 * 64 * 16 + 64 + 64 * 128 * 16 + 2 * 128 + 128 * 256 * 16 + 2 * 256 + 256 * 16 + 1
    assert (_count(DCGANGenerator32()), _count(DCGANDiscriminator32())) == (g, d) == (1_068_931, 663_361)


def test_four_conv_layers_with_batch_norm():
    for net in (DCGANGenerator32(ngf=8), DCGANDiscriminator32(ndf=8)):
        convs = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
        norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert len(convs) == 4 and len(norms) in (2, 3)


@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_and_range(channels):
    g, d = DCGANGenerator32(latent_dim=10, ngf=8, channels=channels), DCGANDiscriminator32(ndf=8, channels=channels)
    x = g(g.sample_latent(3))
    assert x.shape == (3, channels, 32, 32) and x.abs().max() <= 1 and g.output_shape == (channels, 32, 32)
    assert d(x).shape == (3, 1)


def test_wrong_image_size_is_a_clear_error():
    with pytest.raises(ValueError, match=r"got input of shape \(2, 1, 28, 28\); it needs \(N, 1, 32, 32\).*pad or resize"):
        DCGANDiscriminator32(ndf=8, channels=1)(torch.zeros(2, 1, 28, 28))
