"""DCGAN, WGAN, SSGAN and InfoMaxGAN: one generator iteration with DAT off and on, and the
auxiliary losses computed on clean reals (only the GAN loss sees DAT's perturbed images)."""

import pytest
import torch

from datgan_lightning.adversarial import DAT
from datgan_lightning.errors import ConfigurationError
from datgan_lightning.modules import DCGAN, SSGAN, WGAN, InfoMaxGAN
from tests.conftest import fast_trainer, image_loader

TINY = {
    DCGAN: dict(latent_dim=8, ngf=4, ndf=4),
    WGAN: dict(latent_dim=8, ngf=4, ndf=4, n_dis=2),
    SSGAN: dict(latent_dim=8, ngf=8, ndf=8, n_dis=2),
    InfoMaxGAN: dict(latent_dim=8, ngf=8, ndf=8, n_dis=2, rkhs_dim=8),
}


@pytest.mark.parametrize("dat, channels_last", [(False, False), (True, False), (True, True)], ids=["baseline", "dat", "dat-channels_last"])
@pytest.mark.parametrize("model_class", list(TINY), ids=lambda c: c.__name__)
def test_one_generator_iteration(tmp_path, model_class, dat, channels_last):
    model = model_class(**TINY[model_class], max_iterations=1, perturbation=DAT(eps=1.0) if dat else None, channels_last=channels_last)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = fast_trainer(tmp_path)
    trainer.fit(model, image_loader())
    assert model.generator_iterations == 1 and trainer.global_step == model.n_dis + 1
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert any(k.startswith("generator.") for k in changed) and any(k.startswith("discriminator.") for k in changed)
    heads = [k for k in before if k.startswith(("rotation_head.", "infomax_head.")) and "parametrizations" in k and "original" in k]
    assert all(k in changed for k in heads)  # heads are trained with D


def test_wgan_clips_every_discriminator_weight_after_each_step(tmp_path):
    model = WGAN(**TINY[WGAN], max_iterations=2, clip_value=0.005)
    fast_trainer(tmp_path).fit(model, image_loader(n=16))
    weights = torch.cat([p.detach().flatten() for p in model.discriminator.parameters()])
    assert weights.abs().max() <= 0.005 and (weights.abs() == 0.005).any()


def test_wgan_rejects_a_non_positive_clip():
    with pytest.raises(ValueError, match=r"clip_value=0 is invalid; use a positive bound"):
        WGAN(clip_value=0)


def _eval(model):
    # eval mode: no spectral-norm power iteration and no BN batch statistics, so recomputation is exact
    return model.eval()


@pytest.mark.parametrize("model_class, aux, weight_d, weight_g", [
    (SSGAN, "rotation_loss", 1.0, 0.2), (InfoMaxGAN, "infomax_loss", 0.2, 0.2),
])
def test_auxiliary_losses_see_clean_reals_and_the_generators_fakes(model_class, aux, weight_d, weight_g):
    model = _eval(model_class(**TINY[model_class], perturbation=DAT(eps=50.0)))
    real = torch.rand(4, 3, 32, 32) * 2 - 1
    torch.manual_seed(1)
    loss, d_real, d_fake = model.discriminator_step(real)
    torch.manual_seed(1)
    fake = model.generate(4)
    real_adv, _ = model.perturbation(model.discriminator, real, fake)
    aux_loss = getattr(model, aux)
    gan_loss = model.loss.discriminator_loss(d_real, d_fake)
    assert torch.allclose(loss, gan_loss + weight_d * aux_loss(real))
    assert not torch.allclose(aux_loss(real), aux_loss(real_adv))  # so the check above can tell them apart
    assert torch.allclose(d_real, model.discriminator(real_adv).view(-1))  # the GAN loss saw perturbed reals
    torch.manual_seed(2)
    g_loss = model.generator_step(real)
    torch.manual_seed(2)
    fake = model.generate(4)
    expected_g = model.loss.generator_loss(model.discriminator(fake).view(-1)) + weight_g * aux_loss(fake)
    assert torch.allclose(g_loss, expected_g)


def test_default_auxiliary_weights_match_the_papers():
    assert (SSGAN(ngf=8, ndf=8).rotation_weight_d, SSGAN(ngf=8, ndf=8).rotation_weight_g) == (1.0, 0.2)
    infomax = InfoMaxGAN(ngf=8, ndf=8)
    assert (infomax.infomax_weight_d, infomax.infomax_weight_g, infomax.infomax_head.local_b.out_channels) == (0.2, 0.2, 1024)


def test_infomax_local_block_out_of_range():
    with pytest.raises(ValueError, match=r"local_block=4 is invalid; D has 4 blocks, use 1 to 3"):
        InfoMaxGAN(ngf=8, ndf=8, local_block=4)


def test_data_that_does_not_fit_the_model_is_a_clear_error_at_setup(tmp_path):
    import numpy as np

    from datgan_lightning.data import NpzImages

    np.savez(tmp_path / "gray.npz", train_x=np.zeros((8, 1, 28, 28), dtype=np.uint8))
    with pytest.raises(ConfigurationError, match=r"DCGAN generates samples of shape \(3, 32, 32\) but NpzImages yields \(1, 28, 28\)"):
        fast_trainer(tmp_path).fit(DCGAN(**TINY[DCGAN]), NpzImages(str(tmp_path / "gray.npz"), batch_size=4))


# Mimicry's InfoMaxGAN D (nets/infomax_gan/infomax_gan_{32,48,64}.py): `local_feat_blocks` are all blocks
# but the last, whose output the last block's in-place ReLU makes non-negative; at width ndf the local
# map has these channels and side.
MIMICRY_LOCAL_LAYOUT = {32: (3, lambda ndf: ndf, 8), 48: (4, lambda ndf: ndf // 2, 3), 64: (4, lambda ndf: ndf // 2, 4)}


@pytest.mark.parametrize("resolution", [32, 48, 64])
def test_infomax_local_features_are_mimicrys_penultimate_block_after_relu(resolution):
    ndf = 32
    local_blocks, channels, side = MIMICRY_LOCAL_LAYOUT[resolution]
    model = InfoMaxGAN(resolution=resolution, ngf=16, ndf=ndf, rkhs_dim=16).eval()  # eval: u stays, forwards compare
    seen = []
    model.infomax_head.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    images = torch.randn(2, 3, resolution, resolution)
    model.infomax_loss(images)
    local = seen[0]
    expected = torch.relu(model.discriminator.blocks[:local_blocks](images))  # Mimicry's local_feat_blocks
    assert local.shape == (2, channels(ndf), side, side) and model.infomax_head.local_a.in_channels == channels(ndf)
    assert local.min() >= 0 and torch.allclose(local, expected.detach())
