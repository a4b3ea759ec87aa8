"""DCGAN (the DAT paper's Fig. 4 study) and WGAN with weight clipping, on the 32x32 DCGAN nets."""

from __future__ import annotations

from typing import Any, Literal

import torch

from datgan_lightning.modules.gan import GAN
from datgan_lightning.nets.dcgan import DCGANDiscriminator32, DCGANGenerator32


class DCGAN(GAN):
    """:class:`GAN` with the 4-conv BatchNorm DCGAN nets at 32x32 and the Fig. 4 defaults: z=100,
    non-saturating loss, Adam 2e-4 with β = (0.5, 0.999), n_dis 1, no LR decay.

    D has BatchNorm, so real and fake batches go through D separately (``joint_forward=None``), and
    DAT runs its attack forward the same way; D stays in train mode as in the authors' code.

    Args:
        latent_dim: size of z (100 in the paper).
        ngf, ndf: widths of G and D.
        channels: image channels (3 for CIFAR, 1 for MNIST padded to 32x32).
        kwargs: the other arguments of :class:`GAN`.

    Example:
        >>> from datgan_lightning.adversarial import DAT
        >>> gan = DCGAN(ngf=8, ndf=8, channels=1, perturbation=DAT(eps=1.0))
        >>> gan.sample(2).shape
        torch.Size([2, 1, 32, 32])
    """

    def __init__(
        self,
        latent_dim: int = 100,
        ngf: int = 64,
        ndf: int = 64,
        channels: int = 3,
        loss: str = "ns",
        n_dis: int = 1,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas_g: tuple[float, float] = (0.5, 0.999),
        betas_d: tuple[float, float] = (0.5, 0.999),
        lr_decay: Literal["linear", "none"] = "none",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            DCGANGenerator32(latent_dim, ngf, channels),
            DCGANDiscriminator32(ndf, channels),
            loss=loss,
            n_dis=n_dis,
            lr_g=lr_g,
            lr_d=lr_d,
            betas_g=betas_g,
            betas_d=betas_d,
            lr_decay=lr_decay,
            **kwargs,
        )


class WGAN(DCGAN):
    """WGAN (Arjovsky et al.): Wasserstein loss and D's weights clipped to ``[-clip_value, clip_value]``
    after every D step, on the DCGAN nets.

    Defaults follow the DAT paper's Table III setup (z = 128, Adam 1e-4, β = (0.5, 0.999)) with the
    WGAN paper's n_dis 5 and clip 0.01; the WGAN paper itself used RMSprop 5e-5.

    Example:
        >>> gan = WGAN(ngf=8, ndf=8, clip_value=0.01)
        >>> gan.after_discriminator_update()
        >>> max(p.abs().max().item() for p in gan.discriminator.parameters()) <= 0.01
        True
    """

    def __init__(
        self,
        clip_value: float = 0.01,
        loss: str = "wasserstein",
        n_dis: int = 5,
        lr_g: float = 1e-4,
        lr_d: float = 1e-4,
        latent_dim: int = 128,
        **kwargs: Any,
    ) -> None:
        if not clip_value > 0:
            raise ValueError(f"clip_value={clip_value!r} is invalid; use a positive bound such as 0.01.")
        super().__init__(loss=loss, n_dis=n_dis, lr_g=lr_g, lr_d=lr_d, latent_dim=latent_dim, **kwargs)
        self.clip_value = clip_value

    @torch.no_grad()
    def after_discriminator_update(self) -> None:
        for p in self.discriminator.parameters():
            p.clamp_(-self.clip_value, self.clip_value)
