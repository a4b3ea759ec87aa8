"""Direct Adversarial Training (DAT): the targeted perturbation of the DAT paper.

Real samples are pushed toward D's current output on fakes and fakes toward its
output on reals (Eq. 9-10 of the paper), then D is trained on the perturbed
batches only. Two named variants:

``variant="batch"`` (default, the authors' code)
    targets are the batch means of the *other* class's clean logits, the attack
    loss is ``|mean_i D(x_i) - target|`` (sign decided once per batch, a 1/N factor
    in the per-sample gradient) and the step is
    ``x' = clamp(x - eps * clamp(grad, -1, 1), data_range)``.
``variant="sample"`` (the paper's Eq. 10 / Algorithm 1)
    per-sample ``|g1(D(x_r,i)) - mean g1(D(x_f))|`` for reals and
    ``|g2(D(x_f,i)) - mean g2(D(x_r))|`` for fakes, step ``x' = clamp(x - eps * grad)``.
    It has no 1/N factor, so it is about N times stronger at the same eps.

``steps > 1`` repeats the same step from the perturbed point (the paper's Fig. 7),
keeping the targets of the clean batch.

Cost: one D forward on real and fake together (separately when D has BatchNorm)
and one backward to the inputs only per step; no parameter gradients are built.
D stays in its current (training) mode as in the authors' code, so with spectral
norm each extra forward also advances the power iteration of ``u``, as theirs does.

Under data parallelism (a ``torch.distributed`` process group of R > 1 processes, e.g. ``gan_ddp``) each
rank attacks only its own rows: the batch means and the targets are the global batch's, through one
all-reduce of four numbers per step (the sample variant: one, for its targets), and the gradient of a
global mean with respect to a rank's rows carries one device's 1/N. The result on each rank's rows is
then the one-device perturbation of the global batch (exactly, for a D without BatchNorm; with
synchronised BatchNorm up to float rounding of its statistics). Outside a process group nothing is reduced.

Example (your own D, no Lightning):
    >>> import torch
    >>> from datgan_lightning.adversarial import DAT
    >>> D = torch.nn.Linear(2, 1)
    >>> real, fake = torch.randn(8, 2), torch.randn(8, 2)
    >>> real_adv, fake_adv = DAT(eps=1.0, data_range=None)(D, real, fake)
    >>> real_adv.shape, real_adv.requires_grad
    (torch.Size([8, 2]), False)
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from datgan_lightning.adversarial.base import POSITIONS, PerturbationStrategy
from datgan_lightning.losses import GANLoss
from datgan_lightning.utils import discriminate, global_means

VARIANTS = ("batch", "sample")


class DAT(PerturbationStrategy):
    """DAT perturbation ``strategy(D, real, fake) -> (real_adv, fake_adv)``.

    Args:
        eps: step scale (the paper's perturbation level; 1 in the authors' code, ~0.6 best in Fig. 6).
        steps: number of repeated steps (>= 1).
        variant: ``"batch"`` (authors' code) or ``"sample"`` (paper's Algorithm 1).
        positions: which batches to perturb, subset of ``("real", "fake")``.
        data_range: clamp range of the perturbed samples, ``None`` for unbounded data.
        loss: GAN loss; only the ``sample`` variant uses its ``g1``/``g2``.
        joint_forward: run D once on real+fake; ``None`` decides by the absence of BatchNorm.
    """

    def __init__(
        self,
        eps: float = 1.0,
        steps: int = 1,
        variant: str = "batch",
        positions: Sequence[str] = POSITIONS,
        data_range: tuple[float, float] | None = (-1.0, 1.0),
        loss: str | GANLoss | None = None,
        joint_forward: bool | None = None,
    ) -> None:
        super().__init__(eps, positions, data_range, loss)
        if int(steps) != steps or steps < 1:
            raise ValueError(f"DAT: steps={steps} is invalid; use an integer >= 1.")
        if variant not in VARIANTS:
            raise ValueError(f"DAT: variant={variant!r} is unknown; use one of {VARIANTS}.")
        self.steps = int(steps)
        self.variant = variant
        self.joint_forward = joint_forward

    @property
    def requires_loss(self) -> bool:
        return self.variant == "sample"

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        real_adv, fake_adv = real.detach(), fake.detach()
        if self.eps == 0:
            return real_adv, fake_adv
        targets = first_grads = None
        for _ in range(self.steps):
            x_real, x_fake = self._leaves(real_adv, fake_adv)
            d_real, d_fake = discriminate(discriminator, x_real, x_fake, self.joint_forward)
            means = global_means(d_real, d_fake) if self.variant == "batch" else None  # one all-reduce per step
            if targets is None:  # targets come from the clean batch and stay fixed
                targets = self._targets(d_real.detach(), d_fake.detach(), means)
            grad_real, grad_fake = self._input_grads(self._attack_objective(d_real, d_fake, targets, means), x_real, x_fake)
            first_grads = first_grads or (grad_real, grad_fake)  # the diagnostic reports D's gradient at the clean batch
            if grad_real is not None:
                real_adv = self._step(real_adv, grad_real)
            if grad_fake is not None:
                fake_adv = self._step(fake_adv, grad_fake)
        for position, clean, adv, grad in zip(POSITIONS, (real, fake), (real_adv, fake_adv), first_grads):
            if position in self.positions:
                self._record(position, clean, adv, grad)
        return real_adv, fake_adv

    def _targets(self, d_real: Tensor, d_fake: Tensor, means: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor]:
        """(target of the reals, target of the fakes): the other class's mean over the global batch
        (``means``: the batch variant's global means of ``d_real`` and ``d_fake``)."""
        if means is not None:
            mean_real, mean_fake = means
            return mean_fake.detach(), mean_real.detach()
        loss = self._loss()
        target_real, target_fake = global_means(loss.g1(d_fake), loss.g2(d_real))  # the sample variant's one all-reduce
        return target_real.detach(), target_fake.detach()

    def _attack_objective(self, d_real: Tensor, d_fake: Tensor, targets: tuple[Tensor, Tensor],
                          means: tuple[Tensor, Tensor] | None) -> Tensor:
        """The distance to the targets that the perturbation descends. The batch variant's ``means`` are
        global (straight-through: their gradient reaches only this rank's rows, with one device's 1/N);
        the sample variant's terms are per sample, summed, so this rank's rows are all it needs."""
        target_real, target_fake = targets
        terms = []
        if means is not None:
            mean_real, mean_fake = means
            if "real" in self.positions:
                terms.append((mean_real - target_real).abs())
            if "fake" in self.positions:
                terms.append((mean_fake - target_fake).abs())
        else:
            loss = self._loss()
            if "real" in self.positions:
                terms.append((loss.g1(d_real) - target_real).abs().sum())
            if "fake" in self.positions:
                terms.append((loss.g2(d_fake) - target_fake).abs().sum())
        return sum(terms)

    def _step(self, x: Tensor, grad: Tensor) -> Tensor:
        if self.variant == "batch":
            grad = grad.clamp(-1.0, 1.0)
        return self._clamp(x - self.eps * grad)
