"""Every GAN module composes with DAT, a stack of regularizers and an augmentation from the same lists:
one generator iteration in which each regularizer runs on every D step and the weights stay finite."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from datgan_lightning.adversarial import DAT
from datgan_lightning.augmentations import DiffAugment
from datgan_lightning.modules import ASGAN, DCGAN, SNGAN, SSGAN, WGAN, InfoMaxGAN, ProjectionGAN, RobGAN, Toy2DGAN
from datgan_lightning.regularizers import R1, RFM
from tests.conftest import fast_trainer, image_loader

MODULES = {
    SNGAN: dict(latent_dim=8, ngf=8, ndf=8, n_dis=2),
    SSGAN: dict(latent_dim=8, ngf=8, ndf=8, n_dis=2),
    InfoMaxGAN: dict(latent_dim=8, ngf=8, ndf=8, n_dis=2, rkhs_dim=8),
    DCGAN: dict(latent_dim=8, ngf=4, ndf=4),
    WGAN: dict(latent_dim=8, ngf=4, ndf=4, n_dis=2),
    ASGAN: dict(),
    RobGAN: dict(num_classes=2, ngf=2, ndf=4, n_dis=2),
    ProjectionGAN: dict(num_classes=2, ngf=2, ndf=4, n_dis=2),
    Toy2DGAN: dict(hidden=8, n_dis=2),
}


# these craft their own adversarial reals (AS-GAN's FGSM, Rob-GAN's PGD) and refuse a second perturbation
OWN_ATTACK = (ASGAN, RobGAN)


class CountingR1(R1):
    """R1 that counts its calls (the module keeps its own copy, with the module's loss)."""

    calls = 0

    def forward(self, *args):
        self.calls += 1
        return super().forward(*args)


def _data(model_class):
    if model_class is Toy2DGAN:
        return DataLoader(TensorDataset(torch.randn(8, 2)), batch_size=4)
    if model_class in (RobGAN, ProjectionGAN):  # class-conditional: integer labels
        return DataLoader(TensorDataset(torch.rand(8, 3, 32, 32) * 2 - 1, torch.arange(8) % 2), batch_size=4)
    return image_loader()


@pytest.mark.parametrize("model_class", list(MODULES), ids=lambda c: c.__name__)
def test_module_trains_with_dat_regularizers_and_augmentation(model_class, tmp_path):
    images = model_class is not Toy2DGAN
    kwargs = dict(MODULES[model_class], max_iterations=1, regularizers=[CountingR1(weight=1.0), RFM(eps=0.01)])
    if model_class not in OWN_ATTACK:
        kwargs["perturbation"] = DAT(eps=1.0, data_range=(-1.0, 1.0) if images else None)
    if images and model_class is not RobGAN:  # RobGAN's losses call D's two heads directly: it refuses augmentations
        kwargs["augmentations"] = [DiffAugment(policy="translation")]
    model = _asgan(**kwargs) if model_class is ASGAN else model_class(**kwargs)
    fast_trainer(tmp_path).fit(model, _data(model_class))
    assert model.generator_iterations == 1
    updates_per_d_step = 2 if model_class is ASGAN else 1  # AS-GAN's second update on FGSM reals is regularized too
    assert model.regularizers[0].calls == model.n_dis * updates_per_d_step
    assert all(torch.isfinite(p).all() for p in model.parameters())


def _asgan(**kwargs):
    from datgan_lightning.nets.dcgan import DCGANDiscriminator32, DCGANGenerator32

    return ASGAN(generator=DCGANGenerator32(latent_dim=8, ngf=4), discriminator=DCGANDiscriminator32(ndf=4), **kwargs)
