"""Small helpers shared by perturbation strategies and modules (plain PyTorch)."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils import parametrize

from datgan_lightning.errors import CheckpointError


def has_batch_norm(module: nn.Module) -> bool:
    """Whether ``module`` holds a BatchNorm layer in training mode (batch statistics couple samples)."""
    return any(isinstance(m, _BatchNorm) and m.training for m in module.modules())


def has_spectral_norm(module: nn.Module) -> bool:
    """Whether any submodule carries ``torch.nn.utils.parametrizations.spectral_norm``."""
    return any(
        type(p).__name__ == "_SpectralNorm"
        for m in module.modules() if parametrize.is_parametrized(m)
        for plist in m.parametrizations.values() for p in plist
    )


@contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """``modules`` in eval mode inside the block (BatchNorm running statistics, no spectral-norm power
    iteration), each restored to the mode it had, also when the block raises.

    Example:
        >>> bn = nn.BatchNorm1d(2)
        >>> with eval_mode(bn):
        ...     bn.training
        False
        >>> bn.training
        True
    """
    modes = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)


def compile_nets(generator: nn.Module, discriminator: nn.Module, options: dict[str, Any]) -> None:
    """``torch.compile`` G and D in place (``nn.Module.compile``: state dict keys unchanged). A D with spectral
    norm stays eager, with a warning: compiled, it cannot backpropagate through two training-mode forwards
    before one backward (its power iteration bumps a buffer the first graph saved), which the penalties,
    DATT, AS-GAN and SSGAN/InfoMaxGAN's auxiliary losses do."""
    generator.compile(**options)
    if has_spectral_norm(discriminator):
        warnings.warn(
            "compile: the discriminator has spectral norm and stays eager (G is compiled): a compiled "
            "spectral-norm D cannot backpropagate through two training-mode forwards before one backward.",
            stacklevel=3,
        )
    else:
        discriminator.compile(**options)


def logits(discriminator: nn.Module, x: Tensor) -> Tensor:
    """D's logits on ``x`` as shape ``(N,)``, whether D returns ``(N,)`` or ``(N, 1)``."""
    return discriminator(x).reshape(len(x), -1)[:, 0]


def is_distributed() -> bool:
    """True inside an initialised ``torch.distributed`` process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class _SumOverRanks(torch.autograd.Function):
    """``sum_r x_r``, differentiable: the gradient of every rank's input is the sum of the ranks' output gradients."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def all_reduce(x: Tensor) -> Tensor:
    """The sum of ``x`` over ranks, with gradients across ranks (a collective: every rank calls it)."""
    return _SumOverRanks.apply(x)


def sum_over_ranks(x: Tensor) -> Tensor:
    """``x`` (detached) summed over the ranks of a data-parallel run, ``x`` itself outside one, so statistics
    that steer training (ADA's r_t, LeCam's anchors) are the global batch's on every rank. A collective:
    every rank must call it at the same point."""
    return all_reduce(x.detach()) if is_distributed() else x


def global_means(*xs: Tensor) -> tuple[Tensor, ...]:
    """The mean of each ``x`` over the global batch (every rank's rows), straight-through: its value is the
    global mean on every rank and its gradient with respect to this rank's rows is ``1 / N_global`` each,
    the gradient one device's ``x.mean()`` gives them. One all-reduce of two numbers per tensor (sum and
    count) under a process group of more than one process; ``x.mean()`` itself outside one.

    Not :func:`all_reduce`: its backward sums the output gradients of every rank, which would make this
    gradient R times too large (each rank's loss already holds the whole global mean). A collective:
    every rank must call it at the same point with the same number of tensors."""
    if not is_distributed():
        return tuple(x.mean() for x in xs)
    sums = [x.sum() for x in xs]
    totals = torch.stack([torch.stack([s.detach(), s.new_full((), x.numel())]) for s, x in zip(sums, xs)])
    dist.all_reduce(totals)
    return tuple((total + (s - s.detach())) / count for s, (total, count) in zip(sums, totals))


def full_precision(x: Tensor) -> Tensor:
    """``x`` in float32 if autocast made it half or bfloat16 (G's output), else unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


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


def _new_file_mode() -> int:
    umask = os.umask(0)  # the only portable way to read the umask is to set it
    os.umask(umask)
    return 0o666 & ~umask


_NEW_FILE_MODE = _new_file_mode()


def write_atomically(path: str | Path, write: Callable[[str], None], fsync: bool = False) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``: a reader
    (or a crash) never sees half a file. The temporary file is in the same directory, so the rename is
    one atomic ``rename(2)`` on POSIX (a temp file elsewhere, e.g. on another filesystem, would need a
    copy). ``fsync=True`` also flushes the file and the directory to disk before and after the rename,
    so the new file survives a power loss too, not only a killed process."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _NEW_FILE_MODE)  # mkstemp makes 0600 files; give the result the permissions open() would
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if fsync and hasattr(os, "O_DIRECTORY"):
            dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _first_sentence(err: BaseException, limit: int = 120) -> str:
    text = " ".join(str(err).strip().split("\n")[0].split()) or type(err).__name__
    text = text.split(". ")[0].rstrip(".")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A Lightning checkpoint as a dict, read with ``torch.load(weights_only=True)``; a missing, truncated,
    corrupt or foreign file raises :class:`~datgan_lightning.errors.CheckpointError` with one sentence
    naming the file and the problem."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist; pass the path of a .ckpt file written by `datgan fit` (e.g. <run>/checkpoints/last.ckpt).")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} is not a file; pass a .ckpt file written by `datgan fit` (e.g. <run>/checkpoints/last.ckpt).")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - zip/pickle/unpickler errors all mean the same to the user
        reason = _first_sentence(err)
        raise CheckpointError(
            f"checkpoint {str(path)!r} cannot be read ({type(err).__name__}: {reason}): it is truncated, corrupt or not a "
            "PyTorch checkpoint; use an intact one (e.g. the previous checkpoint in the same folder)."
        ) from err
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"checkpoint {str(path)!r} is not a Lightning checkpoint (it has no 'state_dict'); pass a .ckpt file written by `datgan fit`.")
    return checkpoint
