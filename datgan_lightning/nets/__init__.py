"""Networks: plain PyTorch modules, one file per model and resolution."""

from datgan_lightning.nets.base import Discriminator, Generator
from datgan_lightning.nets.mlp import MLPDiscriminator, MLPGenerator

__all__ = ["Discriminator", "Generator", "MLPDiscriminator", "MLPGenerator"]
