"""Data-parallel training of the GAN modules: the ``gan_ddp`` strategy.

Why not Lightning's ``ddp``: a GAN step runs several backward passes per ``training_step`` (D, then G
every ``n_dis`` steps), each over a part of the parameters, plus input gradients for the attacks
(``torch.autograd.grad`` w.r.t. images) and double backward for gradient penalties. One
``DistributedDataParallel`` around the whole module expects every parameter in every backward, so
plain ``ddp`` fails on the first D step (G is unused); ``ddp_find_unused_parameters_true`` works but
walks the autograd graph before every backward to find the unused half, and reduces G's zero
contributions with D's.

``gan_ddp`` does not wrap the module. After each ``manual_backward`` it averages, in one flat
all-reduce per dtype, the gradients of the parameters that took part (those that require grad, i.e.
the toggled optimizer's, and have a gradient), so each backward reduces only what it used; attack
input gradients never touch it. Parameters and buffers are broadcast from rank 0 when fitting
starts, and buffers again before every training step (DDP's ``broadcast_buffers``), so every rank
holds rank 0's BatchNorm statistics. Each rank makes the same collectives in the same order because
the GAN modules have no rank-dependent branches (see :meth:`~datgan_lightning.modules.GAN.perturb`).

Semantics: with per-device batch ``b`` on ``d`` devices and ``n`` nodes the global batch is
``b * d * n``; the averaged gradient is the one-device gradient of that global batch (losses are
batch means), so learning rates need no scaling to match a one-device run with the global batch.

Example:
    >>> import lightning as L
    >>> import datgan_lightning.modules  # registers the name
    >>> trainer = L.Trainer(accelerator="cpu", devices=1, strategy="gan_ddp", logger=False)
    >>> type(trainer.strategy).__name__
    'GANDDPStrategy'
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as dist
from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry
from torch import Tensor

from datgan_lightning.utils import all_reduce, is_distributed

STRATEGY = "gan_ddp"


def _by_dtype(tensors: Iterable[Tensor]) -> list[list[Tensor]]:
    groups: dict[torch.dtype, list[Tensor]] = defaultdict(list)
    for t in tensors:
        groups[t.dtype].append(t)
    return list(groups.values())


def average_gradients(parameters: Iterable[torch.nn.Parameter]) -> None:
    """Replace the gradient of every parameter that requires grad and has one by its mean over ranks:
    one all-reduce of the flattened gradients per dtype. Every rank must pass the same parameters with
    the same gradients present (true when all ranks run the same code)."""
    grads = [p.grad for p in parameters if p.requires_grad and p.grad is not None]
    world = dist.get_world_size()
    for group in _by_dtype(grads):
        flat = torch.cat([g.reshape(-1) for g in group])
        dist.all_reduce(flat)
        flat /= world
        for g, part in zip(group, flat.split([g.numel() for g in group])):
            g.copy_(part.view_as(g))


def broadcast_tensors(tensors: Iterable[Tensor], src: int = 0) -> None:
    """Overwrite ``tensors`` in place with rank ``src``'s values: one broadcast per dtype."""
    for group in _by_dtype(t.data for t in tensors):
        flat = torch.cat([t.reshape(-1) for t in group])
        dist.broadcast(flat, src)
        for t, part in zip(group, flat.split([t.numel() for t in group])):
            t.copy_(part.view_as(t))


def gather_batch(x: Tensor) -> Tensor:
    """Every rank's ``x`` concatenated in rank order (no gradient), the same on all ranks."""
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.detach().contiguous())
    return torch.cat(parts)


def own_rows(x: Tensor, local: int) -> Tensor:
    """This rank's rows of a global-batch result ``x``: ``x`` is ``k`` blocks of ``world * local``
    rows (a perturbation may return clean and perturbed samples together), each in rank order."""
    rank, world = dist.get_rank(), dist.get_world_size()
    blocks = x.split(world * local)
    return torch.cat([block[rank * local : (rank + 1) * local] for block in blocks])


def seed_per_rank() -> None:
    """Give each rank its own torch random stream, reproducibly: every rank draws the same number from
    the (seeded, identical) current stream and reseeds with it plus its rank. The latent noise and the
    random draws of perturbations and regularizers then differ across ranks."""
    common = int(torch.randint(0, 2**62, (1,)))
    torch.manual_seed(common + dist.get_rank())


class GlobalBatchNorm(torch.nn.SyncBatchNorm):
    """:class:`torch.nn.SyncBatchNorm` that also synchronises on CPU (torch's raises there): in training
    under a process group, mean and biased variance of the global batch from two differentiable
    all-reduces (sum, then squared deviations), so every rank normalises as one device would on the
    global batch and gradients flow across ranks; running statistics updated as BatchNorm's (unbiased
    variance of the global batch). Elsewhere it is SyncBatchNorm."""

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and is_distributed() and x.device.type == "cpu"):
            return super().forward(x)
        dims, shape = [0, *range(2, x.dim())], (1, -1, *[1] * (x.dim() - 2))
        count = all_reduce(torch.tensor(float(x.numel() // x.shape[1])))
        mean = all_reduce(x.sum(dims)) / count
        var = all_reduce(((x - mean.view(shape)) ** 2).sum(dims)) / count
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * count / max(float(count) - 1, 1.0), momentum)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y


def devices_per_node(accelerator: Any, devices: Any) -> int:
    """How many processes per node Lightning starts for these Trainer options (its ``"auto"`` devices:
    every GPU, one CPU process; ``-1``: every GPU or CPU core)."""
    name = accelerator if isinstance(accelerator, str) else type(accelerator).__name__.lower()
    gpu = any(key in name for key in ("gpu", "cuda")) or (name == "auto" and torch.cuda.is_available())
    if isinstance(devices, str):
        devices = devices.strip()
        devices = [d for d in devices.split(",") if d.strip()] if "," in devices else devices if devices == "auto" else int(devices)
    if isinstance(devices, (list, tuple)):
        return len(devices)
    if devices == "auto":
        return torch.cuda.device_count() if gpu else 1
    if devices == -1:
        return torch.cuda.device_count() if gpu else os.cpu_count() or 1
    return int(devices)


def default_strategy(accelerator: Any = "auto", devices: Any = "auto", num_nodes: int = 1) -> str:
    """``"gan_ddp"`` when these Trainer options start more than one process (where Lightning's
    ``"auto"`` would pick its ``ddp``, which fails on a GAN), else ``"auto"``."""
    try:
        processes = devices_per_node(accelerator, devices) * int(num_nodes)
    except (TypeError, ValueError):
        return "auto"  # Lightning will say what is wrong with the options
    return STRATEGY if processes > 1 else "auto"


class GANDDPStrategy(DDPStrategy):
    """Lightning's DDP for manual-optimization GANs without the ``DistributedDataParallel`` wrapper:
    gradients are averaged after each backward over the parameters it used (see the module docstring).

    Args:
        broadcast_buffers: copy rank 0's buffers (BatchNorm running statistics, spectral-norm vectors)
            to every rank before each training step, as DDP does.
        kwargs: the arguments of :class:`~lightning.pytorch.strategies.DDPStrategy` (``process_group_backend``,
            ``timeout``, ``start_method``, ...); DDP-wrapper options (``find_unused_parameters``,
            ``static_graph``, ...) do not apply.
    """

    strategy_name = STRATEGY

    def __init__(self, broadcast_buffers: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.broadcast_buffers = broadcast_buffers

    def configure_ddp(self) -> None:
        # no DistributedDataParallel: start every rank from rank 0's weights, as its constructor does
        module = self.lightning_module
        if self.root_device.type == "cpu":  # sync_batchnorm made SyncBatchNorms, which only run on GPUs
            for layer in module.modules():
                if type(layer) is torch.nn.SyncBatchNorm:
                    layer.__class__ = GlobalBatchNorm
        if is_distributed():
            broadcast_tensors([*module.parameters(), *module.buffers()])

    def training_step(self, *args: Any, **kwargs: Any) -> Any:
        if self.broadcast_buffers and is_distributed():
            broadcast_tensors(self.lightning_module.buffers())
        return super().training_step(*args, **kwargs)

    def post_backward(self, closure_loss: Tensor) -> None:
        if is_distributed():
            average_gradients(self.lightning_module.parameters())


if STRATEGY not in StrategyRegistry:
    StrategyRegistry.register(STRATEGY, GANDDPStrategy, description="DDP for manual-optimization GANs: per-backward gradient averaging, no DDP wrapper")
