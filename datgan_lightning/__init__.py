"""datgan_lightning: Direct Adversarial Training and robust-discriminator GANs for PyTorch Lightning."""

__version__ = "0.1.0"
