"""Small helpers shared by perturbation strategies and modules (plain PyTorch)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


def has_batch_norm(module: nn.Module) -> bool:
    """Whether ``module`` holds a BatchNorm layer in training mode (batch statistics couple samples)."""
    return any(isinstance(m, _BatchNorm) and m.training for m in module.modules())


def logits(discriminator: nn.Module, x: Tensor) -> Tensor:
    """D's logits on ``x`` as shape ``(N,)``, whether D returns ``(N,)`` or ``(N, 1)``."""
    return discriminator(x).reshape(len(x), -1)[:, 0]


def discriminate(
    discriminator: nn.Module, real: Tensor, fake: Tensor, joint: bool | None = None
) -> tuple[Tensor, Tensor]:
    """Return D's logits on ``real`` and ``fake``, one logit per sample, shape ``(N,)``.

    With ``joint=True`` D runs once on the concatenated batch (cheaper: one kernel
    launch per layer instead of two); with ``joint=False`` it runs on each batch
    separately. ``None`` picks joint unless D has training-mode BatchNorm, where
    concatenation would mix real and fake batch statistics and change the method.
    """
    if joint is None:
        joint = not has_batch_norm(discriminator)
    if joint:
        both = logits(discriminator, torch.cat([real, fake]))
        return both[: len(real)], both[len(real) :]
    return logits(discriminator, real), logits(discriminator, fake)


def write_atomically(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``: a reader
    (or a crash) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
