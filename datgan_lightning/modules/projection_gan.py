"""A class-conditional GAN with a projection discriminator (Miyato & Koyama 2018) that composes with DAT,
the attacks, the regularizers and the augmentations like the unconditional modules."""

from __future__ import annotations

from typing import Any

from datgan_lightning.modules.gan import GAN
from datgan_lightning.nets.conditional import generator32, generator64, projection_discriminator

GENERATORS = {32: generator32, 64: generator64}


class ProjectionGAN(GAN):
    """Conditional ResNet G (conditional BatchNorm) and projection D, hinge loss, ``n_dis`` 5.

    Labels come from ``(x, y)`` batches and are passed to both steps (:class:`GAN` does this for any
    class-conditional G and a D whose ``forward`` takes labels). The fakes of a step are drawn with the
    real batch's labels, so real row ``i``, fake row ``i`` and anything made from them (DAT's
    perturbations, GP's interpolates, augmentations) share one class, and the objective calls D through
    :class:`~datgan_lightning.nets.conditional.LabelledDiscriminator`: strategies and regularizers keep
    calling ``D(x)`` (``strategy(D, real, fake)`` is unchanged). Miyato and Koyama draw the fakes'
    classes from the prior instead; over a training run both follow the data's class frequencies.

    Args:
        num_classes, resolution (32 or 64), latent_dim, ngf, ndf, channels: the nets (Rob-GAN's G and
            the projection D with the same channel plan as Rob-GAN's AC-GAN D).
        kwargs: the arguments of :class:`GAN` (``perturbation``, ``regularizers``, ``augmentations``, ...).

    Example:
        >>> import torch
        >>> from datgan_lightning.adversarial import DAT
        >>> gan = ProjectionGAN(num_classes=3, ngf=2, ndf=2, perturbation=DAT(eps=1.0))
        >>> gan.sample(2, labels=torch.tensor([0, 2])).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(self, num_classes: int = 10, resolution: int = 32, latent_dim: int = 128, ngf: int = 64,
                 ndf: int = 64, channels: int = 3, loss: str = "hinge", n_dis: int = 5, **kwargs: Any) -> None:
        if resolution not in GENERATORS:
            raise ValueError(f"resolution={resolution!r} is invalid; the conditional nets exist for {sorted(GENERATORS)} pixels.")
        generator = GENERATORS[resolution](num_classes, latent_dim, ngf, channels)
        discriminator = projection_discriminator(resolution, num_classes, ndf, channels)
        super().__init__(generator, discriminator, loss=loss, n_dis=n_dis, **kwargs)
