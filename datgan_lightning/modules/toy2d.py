"""The 2D-mixture GAN of the DAT paper's Fig. 3: 4-layer, 64-unit MLPs for G and D."""

from __future__ import annotations

from typing import Any, Literal

from datgan_lightning.modules.gan import GAN
from datgan_lightning.nets.mlp import MLPDiscriminator, MLPGenerator


class Toy2DGAN(GAN):
    """:class:`GAN` with MLP generator and discriminator on 2D points.

    Perturbation strategies for 2D points should use ``data_range=None`` (the data are unbounded).

    Example:
        >>> from datgan_lightning.adversarial import DAT
        >>> gan = Toy2DGAN(perturbation=DAT(eps=1.0, data_range=None), hidden=8)
        >>> gan.sample(4).shape
        torch.Size([4, 2])
    """

    def __init__(
        self,
        latent_dim: int = 2,
        hidden: int = 64,
        layers: int = 4,
        lr_g: float = 1e-3,
        lr_d: float = 1e-3,
        betas_g: tuple[float, float] = (0.5, 0.999),
        betas_d: tuple[float, float] = (0.5, 0.999),
        max_iterations: int = 10_000,
        lr_decay: Literal["linear", "none"] = "none",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            MLPGenerator(latent_dim, 2, hidden, layers),
            MLPDiscriminator(2, hidden, layers),
            lr_g=lr_g,
            lr_d=lr_d,
            betas_g=betas_g,
            betas_d=betas_d,
            max_iterations=max_iterations,
            lr_decay=lr_decay,
            **kwargs,
        )
