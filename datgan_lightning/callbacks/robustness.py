"""D's robustness on a fixed batch during training and for ``datgan evaluate``."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import LightningModule

from datgan_lightning.callbacks.base import EveryNIterations
from datgan_lightning.metrics.robustness import robustness_report


class RobustnessMetrics(EveryNIterations):
    """Log :func:`~datgan_lightning.metrics.robustness.robustness_report` (DAT Fig. 1/8 flip share,
    Fig. 9 iterations to flip, AS-GAN Table 2 accuracy under FGSM) every ``every_n_iterations``,
    on the first ``num_samples`` training images and a fixed latent batch; history in
    ``<log dir>/robustness.json``. Metric names start with ``robustness/``.

    Args:
        every_n_iterations: interval in generator iterations.
        num_samples: reals and fakes per evaluation.
        flip_eps, flip_steps: the ||δ||∞ bound (0.1) and PGD steps of the flip share.
        step_size, max_iterations: sign step and cap of the iterations-to-flip count.
        fgsm_eps: FGSM size of the accuracy measure (1/255).
        data_range: clamp range of attacked samples (``null`` for unbounded data such as 2D points).
        seed: seed of the latent batch.
    """

    json_name = "robustness.json"

    def __init__(
        self,
        every_n_iterations: int = 1000,
        num_samples: int = 64,
        flip_eps: float = 0.1,
        flip_steps: int = 10,
        step_size: float = 0.01,
        max_iterations: int = 100,
        fgsm_eps: float = 1 / 255,
        data_range: tuple[float, float] | None = (-1.0, 1.0),
        seed: int = 0,
    ) -> None:
        super().__init__(every_n_iterations)
        if flip_eps < 0 or fgsm_eps < 0 or step_size <= 0:
            raise ValueError(
                f"RobustnessMetrics: flip_eps={flip_eps}, fgsm_eps={fgsm_eps} must be >= 0 and step_size={step_size} > 0."
            )
        self.num_samples, self.seed = num_samples, seed
        self.options = dict(flip_eps=flip_eps, flip_steps=flip_steps, step_size=step_size, max_iterations=max_iterations,
                            fgsm_eps=fgsm_eps, data_range=data_range)

    def evaluate(self, module: LightningModule, datamodule: Any) -> dict[str, float]:
        dataset = datamodule.train_dataset
        n = min(self.num_samples, len(dataset))
        real = torch.stack([_image(dataset[i]) for i in range(n)]).to(module.device)
        z = torch.randn(n, module.generator.latent_dim, generator=torch.Generator().manual_seed(self.seed))
        fake = module.sample(z=z.to(module.device))
        return robustness_report(module.discriminator, real, fake, module.loss, **self.options)


def _image(item: Any) -> torch.Tensor:
    return item[0] if isinstance(item, (tuple, list)) else item
