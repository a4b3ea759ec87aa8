"""LeCam regularization (Tseng et al., "Regularizing Generative Adversarial Networks under Limited
Data", CVPR 2021).

    R_LC = λ · ( mean_i ReLU(D(x_r,i) − α_F)² + mean_j ReLU(α_R − D(x_f,j))² )

with α_R, α_F exponential moving averages of D's mean logit on the real and on the fake batches,
the anchors. Each call first updates them from the current batch's **detached** logits, then uses
them (as the authors' code does), so the term pulls D's real logits toward the fakes' history and
its fake logits toward the reals' history: D's outputs stay in a band instead of drifting apart,
which the paper ties to a weighted LeCam divergence, more robust with little data.

The EMA is zero-debiased (the authors' StyleGAN2 code, ``assign_moving_average(..., zero_debias=True)``):
``e_t = γ e_{t−1} + (1 − γ) m_t`` from ``e_0 = 0``, ``α_t = e_t / (1 − γ^t)``, so the first call's
anchors are that batch's means. Defaults:

* ``weight = 0.3``: λ of the authors' BigGAN CIFAR-10/100 scripts (``--LC 0.3``; their StyleGAN2
  runs use 1e-6 to 3e-7 at a very different logit scale);
* ``decay = 0.99``: the authors' StyleGAN2 code (their BigGAN CIFAR code uses 0.9, with the anchors
  reset to the current means and the term off for the first 1,000 generator iterations: set
  ``decay=0.9, start=4000`` at n_dis 4 for that warm-up);
* ``start = 0``: D steps (calls) during which the anchors follow the batch means and the term is 0.

``α_R``, ``α_F`` (and the raw EMAs and the step count) are registered buffers, checkpointed with the
GAN module: a resumed run keeps its anchors. ``every = k`` (lazy) updates the anchors only on the
k steps the term runs. Inside ``GAN(augmentations=[...])`` the logits are those of ``D∘T``.

Example:
    >>> import torch
    >>> from datgan_lightning.regularizers import LeCam
    >>> lecam = LeCam(weight=1.0)
    >>> d_real, d_fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 1.0])  # means 1 and 0
    >>> lecam(None, None, None, d_real, d_fake)  # first call: α_R = 1, α_F = 0: (4 + 0)/2 + (4 + 0)/2
    tensor(4.)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from datgan_lightning.checks import number
from datgan_lightning.regularizers.base import Regularizer
from datgan_lightning.utils import logits, sum_over_ranks


class LeCam(Regularizer):
    """``weight · (mean ReLU(D(x_r) − α_F)² + mean ReLU(α_R − D(x_f))²)``, anchors α from a debiased EMA.

    Args:
        weight: λ (>= 0; default 0.3, the authors' CIFAR setting).
        decay: the EMA's γ in [0, 1) (default 0.99, the authors' StyleGAN2 code).
        start: calls before the term switches on; the anchors follow the batch means meanwhile (default 0).
        every: lazy regularization period (>= 1).
    """

    ema_real: Tensor
    ema_fake: Tensor
    steps: Tensor
    calls: Tensor

    def __init__(self, weight: float = 0.3, decay: float = 0.99, start: int = 0, every: int = 1) -> None:
        super().__init__(weight, every)
        name = type(self).__name__
        self.decay = float(number(decay, f"{name}: decay", minimum=0, below=1, fix="use a number in [0, 1) (0.99 in the authors' StyleGAN2 code)"))
        self.start = number(start, f"{name}: start", integer=True, minimum=0, fix="use an integer >= 0 (0 applies the term from the first D step)")
        self.register_buffer("ema_real", torch.tensor(0.0, dtype=torch.float64))
        self.register_buffer("ema_fake", torch.tensor(0.0, dtype=torch.float64))
        self.register_buffer("steps", torch.tensor(0, dtype=torch.long))  # EMA updates since the last restart
        self.register_buffer("calls", torch.tensor(0, dtype=torch.long))  # calls so far (the warm-up's clock)

    @property
    def anchors(self) -> tuple[Tensor, Tensor]:
        """``(α_R, α_F)``: the debiased EMAs (0 before the first call)."""
        steps = int(self.steps)
        if steps == 0:
            return self.ema_real.clone(), self.ema_fake.clone()
        debias = 1 - self.decay**steps
        return self.ema_real / debias, self.ema_fake / debias

    @torch.no_grad()
    def update(self, d_real: Tensor, d_fake: Tensor) -> None:
        """One EMA step toward the batch means of the detached logits; during the first ``start``
        calls the EMA restarts each time, so the anchors are that batch's means."""
        if int(self.calls) < self.start:
            self.ema_real.zero_()
            self.ema_fake.zero_()
            self.steps.zero_()
        decay = self.decay
        # batch means of the global batch under data parallelism (sums and counts over ranks)
        sum_real, n_real, sum_fake, n_fake = sum_over_ranks(torch.stack([
            d_real.detach().double().sum(), d_real.new_tensor(d_real.numel(), dtype=torch.float64),
            d_fake.detach().double().sum(), d_fake.new_tensor(d_fake.numel(), dtype=torch.float64),
        ]))  # fmt: skip
        self.ema_real.mul_(decay).add_((1 - decay) * sum_real / n_real)
        self.ema_fake.mul_(decay).add_((1 - decay) * sum_fake / n_fake)
        self.steps += 1
        self.calls += 1

    def forward(
        self, discriminator: nn.Module, real: Tensor, fake: Tensor, d_real: Tensor | None = None, d_fake: Tensor | None = None
    ) -> Tensor:
        d_real = logits(discriminator, real) if d_real is None else d_real.reshape(len(d_real), -1)[:, 0]
        d_fake = logits(discriminator, fake) if d_fake is None else d_fake.reshape(len(d_fake), -1)[:, 0]
        self.update(d_real, d_fake)
        if int(self.calls) <= self.start:  # warm-up: anchors only
            return d_real.new_zeros(())
        anchor_real, anchor_fake = (a.to(d_real.dtype) for a in self.anchors)
        term = torch.relu(d_real - anchor_fake).pow(2).mean() + torch.relu(anchor_real - d_fake).pow(2).mean()
        return self.weight * term

    def log_values(self) -> dict[str, float]:
        """The anchors, for a logger."""
        anchor_real, anchor_fake = self.anchors
        return {"anchor_real": float(anchor_real), "anchor_fake": float(anchor_fake)}
