"""LeCam regularization (Tseng et al., "Regularizing Generative Adversarial Networks under Limited
Data", CVPR 2021).

    R_LC = λ · ( mean_i ReLU(D(x_r,i) − α_F)² + mean_j ReLU(α_R − D(x_f,j))² )

with α_R, α_F exponential moving averages of D's mean logit on the real and on the fake batches,
the anchors. Each call first updates them from the current batch's **detached** logits, then uses
them (as the authors' code does), so the term pulls D's real logits toward the fakes' history and
its fake logits toward the reals' history: D's outputs stay in a band instead of drifting apart,
which the paper ties to a weighted LeCam divergence, more robust with little data.

Two ways to run the EMA and its warm-up (``warmup``), each the one of a reference code:

* ``"restart"`` (default; the authors' StyleGAN2 code, ``assign_moving_average(..., zero_debias=True)``):
  a zero-debiased EMA ``e_t = γ e_{t−1} + (1 − γ) m_t`` from ``e_0 = 0``, ``α_t = e_t / (1 − γ^t)``, so
  the first call's anchors are that batch's means. During the first ``start`` calls the EMA restarts on
  every call (the anchors are that batch's means) and the term is 0; it switches on at call ``start + 1``
  with the EMA debiased afresh from there. With ``start = 0`` (the default) this is the StyleGAN2 code.
* ``"continue"`` (the authors' BigGAN code, ``google/lecam-gan`` ``third_party/utils.py`` ``ema_losses``,
  and StudioGAN's ``LeCamEMA``): a plain EMA ``α_t = γ α_{t−1} + (1 − γ) m_t``, with ``γ = 0`` (the
  anchors are the batch means) during the first ``start`` calls, then continued from the warm-up's last
  batch means, never debiased. The references switch the term on at generator iteration ``itr > start``,
  one generator iteration (``n_dis`` D steps) after the EMA starts: ``delay`` is that gap in D steps.
  BigGAN CIFAR (1-based ``itr``, ``start_itr=1000``, ``decay=0.9``, 4 D steps per G step):
  ``LeCam(decay=0.9, start=3996, delay=4, warmup="continue")``; StudioGAN (0-based ``step``,
  ``lecam_ema_start_iter: 1000``, ``decay`` 0.9 for BigGAN and 0.99 for SNGAN, ``d_updates_per_step``
  k = 5 by default): ``LeCam(decay=0.99, start=5000, delay=5, warmup="continue")``. With ``start = 0``
  the first call's means seed the EMA (the references' placeholder start values 1000 and 7777 are not
  reproduced).

``delay`` (default 0) keeps the term off for that many more calls after the warm-up in either mode.
Defaults:

* ``weight = 0.3``: λ of the authors' BigGAN CIFAR-10/100 scripts (``--LC 0.3``; their StyleGAN2
  runs use 1e-6 to 3e-7 at a very different logit scale);
* ``decay = 0.99``: the authors' StyleGAN2 code and StudioGAN's SNGAN config (their BigGAN code uses 0.9);
* ``start = 0``, ``delay = 0``, ``warmup = "restart"``: the StyleGAN2 code (no warm-up).

``α_R``, ``α_F`` (and the raw EMAs, the EMA step count and the call count) are registered buffers,
checkpointed with the GAN module: a resumed run keeps its anchors. The update and the switch are tensor
operations on the buffers (``torch.where``), so a D step does not wait for the device; only
:meth:`log_values` reads the anchors on the host. ``every = k`` (lazy) updates the anchors only on the
k steps the term runs, and ``start``/``delay`` count those calls. Inside ``GAN(augmentations=[...])`` the
logits are those of ``D∘T``.

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

from datgan_lightning.checks import number, one_of
from datgan_lightning.regularizers.base import Regularizer
from datgan_lightning.utils import logits, sum_over_ranks

WARMUPS = ("restart", "continue")


class LeCam(Regularizer):
    """``weight · (mean ReLU(D(x_r) − α_F)² + mean ReLU(α_R − D(x_f))²)``, anchors α from an EMA of D's mean logits.

    Args:
        weight: λ (>= 0; default 0.3, the authors' CIFAR setting).
        decay: the EMA's γ in [0, 1) (default 0.99, the authors' StyleGAN2 code).
        start: calls during which the anchors are the batch means and the term is 0 (default 0).
        every: lazy regularization period (>= 1).
        warmup: ``"restart"`` (a zero-debiased EMA restarted after the warm-up; StyleGAN2 code) or
            ``"continue"`` (a plain EMA continued from the warm-up's last means; BigGAN code, StudioGAN).
        delay: further calls with the term off after the warm-up (the references: ``n_dis``).
    """

    ema_real: Tensor
    ema_fake: Tensor
    steps: Tensor
    calls: Tensor

    def __init__(
        self, weight: float = 0.3, decay: float = 0.99, start: int = 0, every: int = 1, warmup: str = "restart", delay: int = 0
    ) -> None:
        super().__init__(weight, every)
        name = type(self).__name__
        self.decay = float(number(decay, f"{name}: decay", minimum=0, below=1, fix="use a number in [0, 1) (0.99 in the authors' StyleGAN2 code)"))
        self.start = number(start, f"{name}: start", integer=True, minimum=0, fix="use an integer >= 0 (0 applies the term from the first D step)")
        self.warmup = one_of(warmup, f"{name}: warmup", WARMUPS)
        self.delay = number(delay, f"{name}: delay", integer=True, minimum=0, fix="use an integer >= 0 (the references: n_dis)")
        self.register_buffer("ema_real", torch.tensor(0.0, dtype=torch.float64))
        self.register_buffer("ema_fake", torch.tensor(0.0, dtype=torch.float64))
        self.register_buffer("steps", torch.tensor(0, dtype=torch.long))  # EMA updates since the last restart
        self.register_buffer("calls", torch.tensor(0, dtype=torch.long))  # calls so far (the warm-up's clock)

    @property
    def anchors(self) -> tuple[Tensor, Tensor]:
        """``(α_R, α_F)``: the debiased EMAs (``"restart"``) or the EMAs (``"continue"``); 0 before the first call."""
        if self.warmup == "continue":
            return self.ema_real.clone(), self.ema_fake.clone()
        debias = 1 - torch.full_like(self.ema_real, self.decay) ** self.steps
        debias = torch.where(self.steps == 0, torch.ones_like(debias), debias)
        return self.ema_real / debias, self.ema_fake / debias

    @torch.no_grad()
    def update(self, d_real: Tensor, d_fake: Tensor) -> None:
        """One EMA step toward the batch means of the detached logits; during the first ``start`` calls the
        anchors become that batch's means (``"restart"``: the EMA restarts; ``"continue"``: γ = 0)."""
        # batch means of the global batch under data parallelism (sums and counts over ranks)
        sum_real, n_real, sum_fake, n_fake = sum_over_ranks(torch.stack([
            d_real.detach().double().sum(), d_real.new_tensor(d_real.numel(), dtype=torch.float64),
            d_fake.detach().double().sum(), d_fake.new_tensor(d_fake.numel(), dtype=torch.float64),
        ]))
        mean_real, mean_fake = sum_real / n_real, sum_fake / n_fake
        warming_up = self.calls < self.start
        if self.warmup == "restart":
            zero = torch.zeros_like(self.ema_real)
            self.ema_real.copy_(torch.where(warming_up, zero, self.ema_real) * self.decay + (1 - self.decay) * mean_real)
            self.ema_fake.copy_(torch.where(warming_up, zero, self.ema_fake) * self.decay + (1 - self.decay) * mean_fake)
        else:  # the references' ema_losses.update: decay 0 while itr < start_itr (and here on the very first call)
            track = warming_up | (self.calls == 0)
            self.ema_real.copy_(torch.where(track, mean_real, self.ema_real * self.decay + mean_real * (1 - self.decay)))
            self.ema_fake.copy_(torch.where(track, mean_fake, self.ema_fake * self.decay + mean_fake * (1 - self.decay)))
        self.steps.copy_(torch.where(warming_up, torch.zeros_like(self.steps), self.steps) + 1)
        self.calls += 1

    def forward(
        self, discriminator: nn.Module, real: Tensor, fake: Tensor, d_real: Tensor | None = None, d_fake: Tensor | None = None
    ) -> Tensor:
        d_real = logits(discriminator, real) if d_real is None else d_real.reshape(len(d_real), -1)[:, 0]
        d_fake = logits(discriminator, fake) if d_fake is None else d_fake.reshape(len(d_fake), -1)[:, 0]
        self.update(d_real, d_fake)
        anchor_real, anchor_fake = (a.to(d_real.dtype) for a in self.anchors)
        term = torch.relu(d_real - anchor_fake).pow(2).mean() + torch.relu(anchor_real - d_fake).pow(2).mean()
        switched_on = self.calls > self.start + self.delay  # warm-up (and delay): anchors only
        return self.weight * torch.where(switched_on, term, torch.zeros_like(term))

    def log_values(self) -> dict[str, float]:
        """The anchors, for a logger (reads them on the host: call it on logging steps only)."""
        anchor_real, anchor_fake = self.anchors
        return {"anchor_real": float(anchor_real), "anchor_fake": float(anchor_fake)}
