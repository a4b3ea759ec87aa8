"""LightningModules: they compose nets, losses and perturbation strategies."""

from datgan_lightning.modules.asgan import ASGAN
from datgan_lightning.modules.dcgan import DCGAN, WGAN
from datgan_lightning.modules.gan import GAN
from datgan_lightning.modules.infomax_gan import InfoMaxGAN
from datgan_lightning.modules.projection_gan import ProjectionGAN
from datgan_lightning.modules.robgan import RobGAN
from datgan_lightning.modules.robgan_finetune import RobGANFinetune
from datgan_lightning.modules.sngan import SNGAN
from datgan_lightning.modules.ssgan import SSGAN
from datgan_lightning.modules.toy2d import Toy2DGAN

__all__ = ["ASGAN", "DCGAN", "GAN", "InfoMaxGAN", "ProjectionGAN", "RobGAN", "RobGANFinetune", "SNGAN", "SSGAN", "Toy2DGAN", "WGAN"]
