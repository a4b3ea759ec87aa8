"""ADA-style adaptive augmentation (Karras et al., "Training Generative Adversarial Networks with
Limited Data", NeurIPS 2020), with DiffAugment's differentiable ops.

Every op of the policy is applied to each sample with probability ``p``
(:class:`~datgan_lightning.augmentations.DiffAugment`'s ops; ADA's own pipeline of geometric and
color transforms is not reproduced), and ``p`` follows D's overfitting heuristic

    r_t = E[sign(D(x_real))]

averaged over the real logits of the last ``interval`` D steps (``observe``, called by the GAN
module after each D loss with D's logits on the augmented real batch). After every ``interval``
observed steps

    p ← clamp(p + sign(r_t − target) · n / speed, 0, 1)

with ``n`` the number of real images observed in the interval (ADA: ``batch_size · ada_interval``),
so ``p`` can move from 0 to 1 in ``speed`` images. Defaults are ADA's (``stylegan2-ada-pytorch``
``training_loop.py``): ``target = 0.6`` (``--target``), ``speed = 500_000`` images (``ada_kimg = 500``),
``interval = 4`` (``ada_interval``), ``p_init = 0`` (``augment_p``). ADA clamps ``p`` only at 0;
here at 1 too, as a probability.

``p``, the running sums and the last ``r_t`` are registered buffers: they travel in the GAN module's
``state_dict``, so a run resumed from a Lightning checkpoint continues with its ``p`` (the
``p_init`` in the saved hyperparameters only starts a new run). :meth:`log_values` returns
``{"p": ..., "r_t": ...}`` for a logger. With DAT the observed reals are the perturbed ones D's loss saw.

Example:
    >>> import torch
    >>> from datgan_lightning.augmentations import AdaptiveAugment
    >>> ada = AdaptiveAugment(speed=64, interval=2)
    >>> for _ in range(2):
    ...     ada.observe(torch.ones(8))  # D is sure every real is real: r_t = 1 > 0.6
    >>> ada.log_values()  # p rose by 16 images / 64
    {'p': 0.25, 'r_t': 1.0}
    >>> torch.equal(AdaptiveAugment()(torch.ones(2, 3, 8, 8)), torch.ones(2, 3, 8, 8))  # p = 0: the identity
    True
"""

from __future__ import annotations

import torch
from torch import Tensor

from datgan_lightning.augmentations.diffaugment import DiffAugment
from datgan_lightning.checks import number
from datgan_lightning.utils import sum_over_ranks


class AdaptiveAugment(DiffAugment):
    """DiffAugment's ops applied with an adaptive probability ``p`` (a checkpointed buffer).

    Args:
        policy: op groups as for :class:`DiffAugment` (default ``"color,translation,cutout"``).
        target: the ``r_t`` that ``p`` steers toward, in [0, 1] (ADA: 0.6).
        speed: images it takes ``p`` to move by 1 (ADA: ``ada_kimg = 500``, i.e. 500,000).
        interval: D steps between adjustments (ADA: 4).
        p_init: ``p`` at the start of a run, in [0, 1] (ADA: 0).
        translation: largest shift as a fraction of the image side (DiffAugment: 1/8).
        cutout: side of the cut square as a fraction of the image side (DiffAugment: 1/2).
    """

    p: Tensor
    sign_sum: Tensor
    count: Tensor
    steps: Tensor
    r_t: Tensor

    def __init__(
        self,
        policy: str = "color,translation,cutout",
        target: float = 0.6,
        speed: float = 500_000,
        interval: int = 4,
        p_init: float = 0.0,
        translation: float = 0.125,
        cutout: float = 0.5,
    ) -> None:
        super().__init__(policy, 1.0, translation, cutout)
        name = type(self).__name__
        self.target = float(number(target, f"{name}: target", minimum=0, maximum=1, fix="use a number in [0, 1] (ADA: 0.6)"))
        self.speed = float(number(speed, f"{name}: speed", above=0, fix="use a number of images > 0 (ADA: 500000)"))
        self.interval = number(interval, f"{name}: interval", integer=True, minimum=1, fix="use an integer >= 1 (ADA: 4)")
        self.p_init = float(number(p_init, f"{name}: p_init", minimum=0, maximum=1, fix="use a probability in [0, 1] (ADA: 0)"))
        del self.probability  # p is the buffer below
        self.register_buffer("p", torch.tensor(self.p_init, dtype=torch.float64))
        self.register_buffer("sign_sum", torch.tensor(0.0, dtype=torch.float64))  # sum of sign(D(x_real)) this interval
        self.register_buffer("count", torch.tensor(0, dtype=torch.long))  # real logits observed this interval
        self.register_buffer("steps", torch.tensor(0, dtype=torch.long))  # D steps observed this interval
        self.register_buffer("r_t", torch.tensor(float("nan"), dtype=torch.float64))  # at the last adjustment

    def current_probability(self) -> float:
        """``p`` read on the host: one device sync per augmented batch (``forward`` skips all work at
        ``p = 0`` and the per-sample draw at ``p = 1``); :meth:`observe` itself never syncs."""
        return float(self.p)

    @torch.no_grad()
    def observe(self, d_real: Tensor) -> None:
        """Accumulate ``sign(d_real)``; every ``interval`` calls set ``r_t`` and move ``p``.

        Tensor operations only (the interval's end is a ``torch.where``, not a Python branch on a
        device value), so a D step does not wait for the device here."""
        # summed over data-parallel ranks: r_t is the global batch's, as ADA accumulates it across GPUs
        signs, count = sum_over_ranks(torch.stack([d_real.detach().sign().sum().double(), d_real.new_tensor(d_real.numel(), dtype=torch.float64)]))
        self.sign_sum += signs
        self.count += count.to(self.count.dtype)
        self.steps += 1
        due = self.steps >= self.interval
        r_t = self.sign_sum / self.count.clamp_min(1)
        adjust = torch.sign(r_t - self.target) * self.count / self.speed
        self.p.copy_(torch.where(due, (self.p + adjust).clamp(0.0, 1.0), self.p))
        self.r_t.copy_(torch.where(due, r_t, self.r_t))
        for total in (self.sign_sum, self.count, self.steps):
            total.copy_(torch.where(due, torch.zeros_like(total), total))

    def log_values(self) -> dict[str, float]:
        """What a logger should record: the current ``p`` and the ``r_t`` of the last adjustment (nan before)."""
        return {"p": float(self.p), "r_t": float(self.r_t)}
