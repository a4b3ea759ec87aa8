"""How robust is D? The diagnostics of the DAT paper (Fig. 1/8, Fig. 9) and AS-GAN (Table 2).

D *decides* "real" when its logit is above a threshold that depends on the loss: 0 for
``ns``/``minimax`` (sigmoid 0.5) and ``hinge`` (the sign), 0.5 for ``lsgan`` (targets 1 and 0),
and for ``wasserstein``, whose critic has no fixed offset, the midpoint of its mean outputs on the
clean real and fake batches. All attacks are L∞ sign-gradient steps on D's logit, clamped to the
data range, with D in eval mode (no spectral-norm power iteration, BatchNorm running statistics),
its mode restored afterwards.

- :func:`flip_share` (Fig. 1/8): the share of samples for which a *targeted* perturbation with
  ``||δ||∞ ≤ eps`` (0.1) reverses D's decision: ``steps`` PGD steps of ``eps/4`` that push the logit
  across the threshold (up for samples judged fake, down for samples judged real), projected on the
  ε-ball; a sample counts once any step flips it.
- :func:`iterations_to_flip` (Fig. 9): the number of such steps (unbounded, step ``step_size``)
  until the decision flips, capped at ``max_iterations`` (samples never flipped count as the cap).
- :func:`fgsm_accuracy` (AS-GAN Table 2): D's accuracy on real images, clean and after untargeted
  FGSM with ε = 1/255: one sign step down D's logit (for every loss).

Example (a linear D whose answer is known):
    >>> import torch
    >>> D = torch.nn.Linear(2, 1)
    >>> with torch.no_grad():
    ...     _ = D.weight.copy_(torch.tensor([[1.0, 1.0]])), D.bias.zero_()
    >>> x = torch.tensor([[0.05, 0.0], [0.5, 0.5]])          # logits 0.05 and 1.0
    >>> flip_share(D, x, threshold=0.0, eps=0.1, data_range=None)  # 0.05 < 0.1 * ||w||_1 = 0.2 flips; 1.0 does not
    0.5
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from datgan_lightning.adversarial.fgsm import sign_step
from datgan_lightning.adversarial.pgd import label_attack, pgd_ascent
from datgan_lightning.losses import GANLoss, get_loss
from datgan_lightning.utils import eval_mode, logits

FIXED_THRESHOLDS = {"ns": 0.0, "minimax": 0.0, "hinge": 0.0, "lsgan": 0.5}


def decision_threshold(loss: str | GANLoss, d_real: Tensor | None = None, d_fake: Tensor | None = None) -> float:
    """The logit above which D decides "real" for ``loss`` (see the module docstring)."""
    name = get_loss(loss).name
    if name in FIXED_THRESHOLDS:
        return FIXED_THRESHOLDS[name]
    if d_real is None or d_fake is None:
        raise ValueError(f"decision_threshold: loss={name!r} has no fixed threshold; pass D's logits on clean reals and fakes.")
    return float((d_real.mean() + d_fake.mean()) / 2)


@contextmanager
def evaluating(module: nn.Module):
    """``module`` in eval mode, with gradients on (the attacks need input gradients, also when the
    caller runs under ``torch.no_grad``)."""
    with eval_mode(module), torch.enable_grad():
        yield module


def _attack(D: nn.Module, x: Tensor, threshold: float, step_size: float, steps: int,
            eps: float | None, data_range: tuple[float, float] | None) -> Tensor:
    """Index of the first step (1-based) at which each sample's decision flips; ``steps + 1`` if never."""
    x = x.detach()
    with torch.no_grad():
        judged_real = logits(D, x) > threshold
    direction = torch.where(judged_real, -1.0, 1.0).to(x.dtype)  # push across the threshold
    shape = (-1,) + (1,) * (x.dim() - 1)
    first_flip = torch.full((len(x),), steps + 1, dtype=torch.long, device=x.device)

    def freeze_flipped(step: int, previous: Tensor, x_adv: Tensor) -> Tensor:
        nonlocal first_flip
        active = first_flip > steps  # flipped samples stay where they flipped
        x_adv = torch.where(active.view(shape), x_adv, previous)
        with torch.no_grad():
            flipped = (logits(D, x_adv) > threshold) != judged_real
        first_flip = torch.where(active & flipped, torch.full_like(first_flip, step), first_flip)
        return x_adv

    pgd_ascent(lambda v: (direction * logits(D, v)).sum(), x, eps, steps, step_size, data_range, after_step=freeze_flipped)
    return first_flip


def flip_share(D: nn.Module, x: Tensor, threshold: float, eps: float = 0.1, steps: int = 10,
               step_size: float | None = None, data_range: tuple[float, float] | None = (-1.0, 1.0)) -> float:
    """Share of ``x`` whose decision a targeted ``||δ||∞ ≤ eps`` perturbation flips (DAT Fig. 1/8)."""
    if eps < 0:
        raise ValueError(f"flip_share: eps={eps} is negative; use eps >= 0 (the paper: 0.1).")
    step_size = eps / 4 if step_size is None else step_size
    with evaluating(D):
        first_flip = _attack(D, x, threshold, step_size, steps, eps, data_range)
    return float((first_flip <= steps).float().mean())


def iterations_to_flip(D: nn.Module, x: Tensor, threshold: float, step_size: float = 0.01, max_iterations: int = 100,
                       data_range: tuple[float, float] | None = (-1.0, 1.0)) -> Tensor:
    """Per sample, the number of sign steps of ``step_size`` until D's decision flips (DAT Fig. 9);
    ``max_iterations`` for samples it never flips within that many."""
    with evaluating(D):
        return _attack(D, x, threshold, step_size, max_iterations, None, data_range).clamp(max=max_iterations)


def fgsm_accuracy(D: nn.Module, real: Tensor, threshold: float, eps: float = 1 / 255,
                  data_range: tuple[float, float] | None = (-1.0, 1.0)) -> tuple[float, float]:
    """D's accuracy on ``real`` (share judged real), clean and under FGSM with ``eps`` (AS-GAN Table 2).

    The attack is ``x' = clamp(x - eps * sign(grad_x D(x)), data_range)``: one untargeted step down D's
    *logit*, whatever the loss (a step along ``g1`` would stall where ``g1`` is flat, e.g. hinge reals
    with logit above 1, and point the wrong way for lsgan reals above 1)."""
    with evaluating(D):
        leaf = real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(logits(D, leaf).sum(), leaf)
        real_adv = sign_step(real, grad, -eps, data_range)
        with torch.no_grad():
            clean = (logits(D, real) > threshold).float().mean()
            adversarial = (logits(D, real_adv) > threshold).float().mean()
    return float(clean), float(adversarial)


def robustness_report(D: nn.Module, real: Tensor, fake: Tensor, loss: str | GANLoss, flip_eps: float = 0.1, flip_steps: int = 10,
                      step_size: float = 0.01, max_iterations: int = 100, fgsm_eps: float = 1 / 255,
                      data_range: tuple[float, float] | None = (-1.0, 1.0)) -> dict[str, float]:
    """All diagnostics on one real and one fake batch, as ``{name: value}``."""
    with evaluating(D), torch.no_grad():
        threshold = decision_threshold(loss, logits(D, real), logits(D, fake))
    clean_acc, fgsm_acc = fgsm_accuracy(D, real, threshold, fgsm_eps, data_range)
    return {
        "robustness/flip_share_fake": flip_share(D, fake, threshold, flip_eps, flip_steps, None, data_range),
        "robustness/iterations_to_flip_real": float(iterations_to_flip(D, real, threshold, step_size, max_iterations, data_range).float().mean()),
        "robustness/iterations_to_flip_fake": float(iterations_to_flip(D, fake, threshold, step_size, max_iterations, data_range).float().mean()),
        "robustness/accuracy_real_clean": clean_acc,
        "robustness/accuracy_real_fgsm": fgsm_acc,
    }


# ------------------------------------------------------------------------ classifiers (Rob-GAN Table 1)
def accuracy_under_attack(
    classifier: nn.Module,
    data: tuple[Tensor, Tensor] | Iterable[tuple[Tensor, Tensor]],
    eps_list: Sequence[float] = (0.0, 0.02, 0.04, 0.08),
    steps: int = 20,
    step_size: float | None = None,
    data_range: tuple[float, float] | None = (-1.0, 1.0),
) -> dict[float, float]:
    """Rob-GAN Table 1: ``{eps: accuracy}`` of ``classifier`` on ``data`` under untargeted L-inf PGD on
    its cross-entropy (``steps`` 20 sign steps of ``step_size``, default ``eps / 5`` as the authors'
    ``acc_under_attack.py``; no random start; eps 0 is the clean accuracy). The classifier is in eval
    mode during the attack (restored); an AC-GAN D is scored through its ``classify(x)``.

    Args:
        classifier: a module returning class logits, or one with a ``classify`` method (an AC-GAN D).
        data: ``(images, labels)`` tensors or an iterable of such batches (a DataLoader).
    """
    classify = getattr(classifier, "classify", classifier)
    batches = [data] if isinstance(data, (tuple, list)) and isinstance(data[0], Tensor) else data
    correct = {float(eps): 0 for eps in eps_list}
    total = 0
    device = next(classifier.parameters()).device
    with evaluating(classifier):
        for x, y in batches:
            x, y = x.to(device), y.to(device).long()
            total += len(y)
            for eps in correct:
                x_adv = label_attack(classify, x, y, eps, steps, eps / 5 if step_size is None else step_size, data_range)
                with torch.no_grad():
                    correct[eps] += int((classify(x_adv).argmax(dim=1) == y).sum())
    if total == 0:
        raise ValueError("accuracy_under_attack: the data is empty; pass (images, labels) with at least one sample.")
    return {eps: c / total for eps, c in correct.items()}


def accuracy_table(rows: dict[str, dict[float, float]]) -> str:
    """Rows ``{model: {eps: accuracy}}`` as a markdown table in the layout of Rob-GAN's Table 1."""
    eps_list = sorted({eps for row in rows.values() for eps in row})
    lines = ["| model | " + " | ".join(f"ε={eps:g}" for eps in eps_list) + " |", "|---|" + "---|" * len(eps_list)]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{100 * row[eps]:.1f}%" if eps in row else "" for eps in eps_list) + " |")
    return "\n".join(lines)
