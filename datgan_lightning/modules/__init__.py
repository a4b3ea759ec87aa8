"""LightningModules: they compose nets, losses and perturbation strategies."""

from datgan_lightning.modules.gan import GAN
from datgan_lightning.modules.sngan import SNGAN
from datgan_lightning.modules.toy2d import Toy2DGAN

__all__ = ["GAN", "SNGAN", "Toy2DGAN"]
