"""DATT: DAT that trains D on the clean and the perturbed batch together (the DAT paper's Table III).

``DATT(...)(D, real, fake)`` returns ``(cat[real, real_adv], cat[fake, fake_adv])`` where
``real_adv, fake_adv`` are :class:`~datgan_lightning.adversarial.DAT`'s perturbed batches: 2N samples
each, the first N clean. D's loss is a batch mean, so it becomes the average of the clean loss and
the DAT loss. A position that is not perturbed comes back as the clean batch twice, so both halves
keep the same size (a gradient penalty on interpolates needs real and fake of one shape).

Cost: DAT's (one attack forward and backward per step) plus D's loss on twice the batch; the paper
finds it a little better than DAT and slower. It is for the discriminator step only: the
generator-step perturbation (``perturb_in="generator"``/``"all"``) expects a batch of N back.
With training-mode BatchNorm the clean and perturbed halves share their batch statistics.

Example:
    >>> import torch
    >>> from datgan_lightning.adversarial import DATT
    >>> D = torch.nn.Linear(2, 1)
    >>> real, fake = torch.randn(8, 2), torch.randn(8, 2)
    >>> real_both, fake_both = DATT(eps=1.0, data_range=None)(D, real, fake)
    >>> real_both.shape, torch.equal(real_both[:8], real)
    (torch.Size([16, 2]), True)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from datgan_lightning.adversarial.dat import DAT


class DATT(DAT):
    """DAT + clean batch: ``strategy(D, real, fake) -> (cat[real, real_adv], cat[fake, fake_adv])``.

    Args: as :class:`~datgan_lightning.adversarial.DAT` (same defaults).
    """

    keeps_batch_size = False  # 2N samples: the GAN module refuses it outside the D step

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        real_adv, fake_adv = super().__call__(discriminator, real, fake)
        return torch.cat([real.detach(), real_adv]), torch.cat([fake.detach(), fake_adv])
