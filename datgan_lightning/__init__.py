"""datgan_lightning: Direct Adversarial Training and robust-discriminator GANs for PyTorch Lightning.

Importing the package (or its plain-PyTorch pieces: adversarial, losses, nets, regularizers,
augmentations) loads no Lightning; ``datgan_lightning.modules`` registers the ``gan_ddp`` strategy name.
"""

__version__ = "0.1.0"
