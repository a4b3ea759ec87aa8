"""Class-conditional nets: conditional BatchNorm, a conditional ResNet G, AC-GAN and projection Ds (Rob-GAN)."""

from datgan_lightning.nets.conditional.batchnorm import ConditionalBatchNorm2d
from datgan_lightning.nets.conditional.labelled import LabelledDiscriminator
from datgan_lightning.nets.conditional.resnet import (
    ACResNetDiscriminator,
    ConditionalGBlock,
    ConditionalResNetGenerator,
    ProjectionResNetDiscriminator,
    ac_discriminator,
    generator32,
    generator64,
    projection_discriminator,
)

__all__ = [
    "ACResNetDiscriminator", "ConditionalBatchNorm2d", "ConditionalGBlock", "ConditionalResNetGenerator",
    "LabelledDiscriminator", "ProjectionResNetDiscriminator", "ac_discriminator", "generator32", "generator64", "projection_discriminator",
]
