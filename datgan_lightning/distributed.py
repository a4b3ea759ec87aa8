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
starts, and the buffers that can diverge again before every training step (DDP's ``broadcast_buffers``;
synchronised BatchNorm's and spectral norm's are identical by construction), so every rank holds rank
0's BatchNorm statistics. Each rank makes the same collectives in the same order because
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

import inspect
import os
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as dist
from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry
from lightning.pytorch.trainer.states import TrainerStatus
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.optim.swa_utils import AveragedModel

from datgan_lightning.checks import require
from datgan_lightning.errors import ConfigurationError
from datgan_lightning.utils import all_reduce, is_distributed

STRATEGY = "gan_ddp"


def _by_dtype(tensors: Iterable[Tensor]) -> list[list[Tensor]]:
    groups: dict[torch.dtype, list[Tensor]] = defaultdict(list)
    for t in tensors:
        groups[t.dtype].append(t)
    return list(groups.values())


def average_gradients(parameters: Iterable[torch.nn.Parameter]) -> None:
    """Replace the gradient of every parameter that requires grad and has one by its mean over ranks:
    one all-reduce of the flattened gradients per dtype, copied back in one fused call. Every rank must
    pass the same parameters with the same gradients present (true when all ranks run the same code)."""
    grads = [p.grad for p in parameters if p.requires_grad and p.grad is not None]
    world = dist.get_world_size()
    for group in _by_dtype(grads):
        flat = torch.cat([g.reshape(-1) for g in group])
        dist.all_reduce(flat)
        flat /= world
        copy_all(group, [part.view_as(g) for g, part in zip(group, flat.split([g.numel() for g in group]))])


def broadcast_tensors(tensors: Iterable[Tensor], src: int = 0) -> None:
    """Overwrite ``tensors`` in place with rank ``src``'s values: one broadcast per dtype."""
    for group in _by_dtype(t.data for t in tensors):
        flat = torch.cat([t.reshape(-1) for t in group])
        dist.broadcast(flat, src)
        copy_all(group, [part.view_as(t) for t, part in zip(group, flat.split([t.numel() for t in group]))])


def copy_all(targets: list[Tensor], sources: list[Tensor]) -> None:
    """``t.copy_(s)`` for each pair, in one fused kernel launch per device where torch has one
    (``torch._foreach_copy_``, private: a loop of ``copy_`` otherwise, the same result)."""
    foreach_copy = getattr(torch, "_foreach_copy_", None)
    if foreach_copy is None:
        for target, source in zip(targets, sources):
            target.copy_(source)
        return
    foreach_copy(targets, sources)


def divergent_buffers(module: nn.Module) -> list[Tensor]:
    """The buffers of ``module`` that can differ across ranks, which ``broadcast_buffers`` must resend every
    step: all but those every rank updates identically from identical weights or global statistics,
    i.e. the buffers of synchronised BatchNorm (SyncBatchNorm, GlobalBatchNorm: global-batch running
    statistics), spectral norm's power-iteration vectors (``u``/``v``: from the weights alone) and an
    EMA copy's update count. An EMA copy's BatchNorm is synchronised with G's (``sync_batchnorm``
    converts every layer)."""
    skipped: set[int] = set()
    for layer in module.modules():
        if isinstance(layer, nn.SyncBatchNorm) or type(layer).__name__ == "_SpectralNorm":  # parametrizations.spectral_norm
            skipped.update(id(b) for b in layer.buffers(recurse=False))
        for name, buffer in layer.named_buffers(recurse=False):
            if name.endswith(("_u", "_v")) and hasattr(layer, name[:-2] + "_orig"):  # torch.nn.utils.spectral_norm (old style)
                skipped.add(id(buffer))
        if isinstance(layer, AveragedModel):  # its update count: the same on every rank
            skipped.add(id(layer.n_averaged))
    return [b for b in module.buffers() if id(b) not in skipped]


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


_streams_restored = False


def keep_restored_streams() -> None:
    """Make the next :func:`seed_per_rank` leave the torch stream alone: every rank has just restored its own
    from a checkpoint (:class:`~datgan_lightning.callbacks.ResumeState`), and reseeding would make the
    resumed run differ from the uninterrupted one."""
    global _streams_restored
    _streams_restored = True


def seed_per_rank() -> None:
    """Give each rank its own torch random stream, reproducibly: every rank draws the same number from
    the (seeded, identical) current stream and reseeds with it plus its rank. The latent noise and the
    random draws of perturbations and regularizers then differ across ranks. Does nothing once after
    :func:`keep_restored_streams`."""
    global _streams_restored
    if _streams_restored:
        _streams_restored = False
        return
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


def check_attack_batch_norm(module: nn.Module) -> None:
    """Refuse, with one sentence, a module whose perturbation attacks a discriminator with BatchNorm that
    is not synchronised: each rank attacks its own rows, so the attack's batch statistics would be the
    rank's share, not the global batch's (one device's). Attacks that run D in eval mode (Rob-GAN's PGD)
    use the running statistics and are not concerned."""
    perturbation, discriminator = getattr(module, "perturbation", None), getattr(module, "discriminator", None)
    if perturbation is None or discriminator is None or getattr(perturbation, "eval_mode", False):
        return
    unsynced = sorted({type(m).__name__ for m in discriminator.modules() if isinstance(m, _BatchNorm) and not isinstance(m, nn.SyncBatchNorm)})
    if unsynced:
        raise ConfigurationError(
            f"gan_ddp: the discriminator has {', '.join(unsynced)} and {type(perturbation).__name__} attacks each rank's "
            "own rows, so its batch statistics would be the rank's share instead of the global batch; set "
            "sync_batchnorm=True (--trainer.sync_batchnorm true) to make the attack and D's BatchNorm those of one device."
        )


#: DDPStrategy arguments that configure the DistributedDataParallel wrapper, which gan_ddp does not use
_WRAPPER_OPTIONS = ("ddp_comm_state", "ddp_comm_hook", "ddp_comm_wrapper", "model_averaging_period")


class GANDDPStrategy(DDPStrategy):
    """Lightning's DDP for manual-optimization GANs without the ``DistributedDataParallel`` wrapper:
    gradients are averaged after each backward over the parameters it used (see the module docstring).

    Args:
        broadcast_buffers: copy rank 0's buffers that can differ across ranks (unsynchronised BatchNorm's
            running statistics, any buffer of your own) to every rank before each training step, as DDP
            does; synchronised BatchNorm's and spectral norm's vectors are identical on every rank by
            construction and are not resent (:func:`divergent_buffers`).
        kwargs: the arguments of :class:`~lightning.pytorch.strategies.DDPStrategy` that do not configure its
            ``DistributedDataParallel`` wrapper (``process_group_backend``, ``timeout``, ``start_method``,
            ``cluster_environment``, ...). The wrapper's options (``ddp_comm_hook``, ``bucket_cap_mb``,
            ``static_graph``, ``find_unused_parameters``, ...) would have no effect and are refused.

    The process group is destroyed when fit, validate or test ends, normally or on an error, so every
    rank exits cleanly (gloo aborts a process that exits with a live group, about 1 run in 10).
    """

    strategy_name = STRATEGY

    _divergent_buffers: list[Tensor] = []

    def __init__(self, broadcast_buffers: bool = True, **kwargs: Any) -> None:
        accepted = set(inspect.signature(DDPStrategy.__init__).parameters) - {"self", "kwargs", *_WRAPPER_OPTIONS}
        for name in sorted(kwargs):
            require(name in accepted, f"gan_ddp {name}", kwargs[name],
                    "gan_ddp averages gradients itself, without the DistributedDataParallel wrapper this option "
                    f"configures; remove it (gan_ddp takes broadcast_buffers, {', '.join(sorted(accepted))})")
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
            check_attack_batch_norm(module)
            broadcast_tensors([*module.parameters(), *module.buffers()])
        self._divergent_buffers = divergent_buffers(module)

    def training_step(self, *args: Any, **kwargs: Any) -> Any:
        if self.broadcast_buffers and is_distributed() and self._divergent_buffers:
            broadcast_tensors(self._divergent_buffers)
        return super().training_step(*args, **kwargs)

    def post_backward(self, closure_loss: Tensor) -> None:
        if is_distributed():
            average_gradients(self.lightning_module.parameters())

    def teardown(self) -> None:
        super().teardown()
        if not (dist.is_available() and dist.is_initialized()):
            return
        trainer = getattr(self.lightning_module, "_trainer", None) if self.lightning_module is not None else None
        if trainer is None or trainer.state.status != TrainerStatus.INTERRUPTED:
            dist.barrier()  # no rank leaves (rank 0 hosts the rendezvous store) while another still talks to it; not on an error: the others may never come
        dist.destroy_process_group()


if STRATEGY not in StrategyRegistry:
    StrategyRegistry.register(STRATEGY, GANDDPStrategy, description="DDP for manual-optimization GANs: per-backward gradient averaging, no DDP wrapper")
