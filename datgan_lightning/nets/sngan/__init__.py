"""SNGAN ResNets of Mimicry at 32, 48 and 64 pixels."""

from datgan_lightning.nets.sngan.base import ResNetDiscriminator, ResNetGenerator
from datgan_lightning.nets.sngan.sngan_32 import SNGANDiscriminator32, SNGANGenerator32
from datgan_lightning.nets.sngan.sngan_48 import SNGANDiscriminator48, SNGANGenerator48
from datgan_lightning.nets.sngan.sngan_64 import SNGANDiscriminator64, SNGANGenerator64

__all__ = [
    "ResNetDiscriminator",
    "ResNetGenerator",
    "SNGANDiscriminator32",
    "SNGANDiscriminator48",
    "SNGANDiscriminator64",
    "SNGANGenerator32",
    "SNGANGenerator48",
    "SNGANGenerator64",
]
