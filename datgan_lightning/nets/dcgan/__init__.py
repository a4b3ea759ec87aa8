"""DCGAN (Radford et al.) at 32x32, as in the DAT paper's Fig. 4 footnote."""

from datgan_lightning.nets.dcgan.dcgan_32 import DCGANDiscriminator32, DCGANGenerator32

__all__ = ["DCGANDiscriminator32", "DCGANGenerator32"]
