"""How big the perturbation a strategy made is, in the units users think in (plain PyTorch, no Lightning).

A perturbation below one 8-bit grey level per pixel does not change the image a viewer (or an 8-bit
file) would see: :func:`perturbation_size` expresses ``|delta|`` in grey levels of the data range,
one grey level being ``(high - low) / 255`` (2/255 for images in [-1, 1]). Strategies record it from
the delta they already made, only when asked (``strategy.record = True``, which the GAN module sets
on the steps it logs), and return it from ``strategy.log_values()``.

Example:
    >>> import torch
    >>> clean = torch.zeros(2, 1, 2, 2)
    >>> size = perturbation_size(clean, clean + 2 / 255, (-1.0, 1.0))
    >>> round(size["mean_grey"], 6), round(size["max_grey"], 6)
    (1.0, 1.0)
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from datgan_lightning.utils import eval_mode

GREY_LEVELS = 255  # an 8-bit image has 256 values, 255 steps between low and high


@torch.no_grad()
def perturbation_size(
    clean: Tensor, perturbed: Tensor, data_range: tuple[float, float] | None, grad: Tensor | None = None
) -> dict[str, float]:
    """Mean and max ``|perturbed - clean|`` per pixel, in 8-bit grey levels of ``data_range``, and the
    mean over samples of the L2 norm of ``grad`` (the input gradient the step was made from).

    Args:
        clean, perturbed: the batch before and after the perturbation, same shape, samples first.
        data_range: ``(low, high)`` of the data; one grey level is ``(high - low) / 255``. ``None``
            (unbounded data, e.g. 2D points): the sizes are in data units, keys ``mean_abs``/``max_abs``.
        grad: the per-sample input gradient behind the step, or ``None`` (no ``grad_norm`` key).

    Returns:
        ``{"mean_grey", "max_grey"[, "grad_norm"]}`` (``mean_abs``/``max_abs`` without a data range).
    """
    delta = (perturbed.detach() - clean.detach()).abs().float()
    unit, suffix = (1.0, "abs") if data_range is None else ((data_range[1] - data_range[0]) / GREY_LEVELS, "grey")
    size = {f"mean_{suffix}": delta.mean().item() / unit, f"max_{suffix}": delta.max().item() / unit}
    if grad is not None:
        size["grad_norm"] = grad.detach().float().flatten(1).norm(dim=1).mean().item()
    return size


def spectral_norm_modules(module: nn.Module) -> list[nn.Module]:
    """The ``torch.nn.utils.parametrizations.spectral_norm`` parametrizations inside ``module``."""
    return [
        p
        for m in module.modules() if parametrize.is_parametrized(m)
        for plist in m.parametrizations.values() for p in plist
        if type(p).__name__ == "_SpectralNorm"
    ]


def frozen_power_iteration(module: nn.Module) -> AbstractContextManager[None]:
    """Inside this block, spectral norm in ``module`` uses its current ``u``, ``v`` without advancing them.

    The spectral-norm parametrization runs a power iteration on every forward in training mode and none
    in eval mode; this puts only the parametrizations in eval mode (the rest of ``module``, e.g. its
    BatchNorm, keeps its mode) and restores their modes after.
    """
    return eval_mode(*spectral_norm_modules(module))


@torch.no_grad()
def spectral_norm_errors(module: nn.Module) -> dict[str, float]:
    """Per spectral-normed layer: ``sigma_estimate / sigma_exact - 1``, where ``sigma_estimate = u^T W v``
    from the power iteration's current vectors and ``sigma_exact = torch.linalg.matrix_norm(W, 2)`` of the
    weight reshaped to a matrix (as spectral norm reshapes it). 0 is exact; negative means the layer is
    divided by too small a number, i.e. its normalised weight has a spectral norm above 1."""
    errors = {}
    for name, m in module.named_modules():
        if not parametrize.is_parametrized(m):
            continue
        for tensor_name, plist in m.parametrizations.items():
            for p in plist:
                if type(p).__name__ != "_SpectralNorm":
                    continue
                weight = plist.original
                matrix = p._reshape_weight_to_matrix(weight)  # private: pinned by tests/adversarial/test_diagnostics.py
                estimate = torch.vdot(p._u, torch.mv(matrix, p._v))
                exact = torch.linalg.matrix_norm(matrix, 2)
                errors[f"{name}.{tensor_name}" if name else tensor_name] = (estimate / exact - 1).item()
    return errors
