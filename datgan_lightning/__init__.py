"""datgan_lightning: Direct Adversarial Training and robust-discriminator GANs for PyTorch Lightning."""

__version__ = "0.1.0"

from datgan_lightning import distributed as _distributed  # noqa: E402,F401  registers the "gan_ddp" strategy name
