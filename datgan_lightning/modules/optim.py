"""The GAN modules' optimizers, LR schedules (with the linear decay) and G's EMA; the factories as plain data."""

from __future__ import annotations

import functools
import importlib
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, ReduceLROnPlateau
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from datgan_lightning.checks import require


def linear_decay(module: Any, iteration: int) -> float:
    """LR factor ``1 - iteration / module.max_iterations`` (0 at and after the end). The horizon is read
    from the module at every step, so a run resumed with a larger ``max_iterations`` decays to its own end."""
    return max(0.0, 1.0 - iteration / module.max_iterations)


def linear_decay_schedule(optimizer: Any, module: Any) -> LambdaLR:
    """A ``LambdaLR`` of :func:`linear_decay` over ``module``. The lambda is a ``functools.partial``: its
    state (``__dict__``) is empty, so the scheduler's state dict holds no module and old checkpoints'
    ``{"total": n}`` load into it harmlessly."""
    return LambdaLR(optimizer, functools.partial(linear_decay, module))


def is_linear_decay(scheduler: LRScheduler) -> bool:
    return isinstance(scheduler, LambdaLR) and all(getattr(f, "func", None) is linear_decay for f in scheduler.lr_lambdas)


def reaim_linear_decay(scheduler: LRScheduler) -> None:
    """Set the optimizer's LR to the schedule's value at the current iteration (``last_epoch``), through the
    scheduler's own ``step``: a resumed run's optimizers come back with the LR of the old horizon."""
    if is_linear_decay(scheduler) and scheduler.last_epoch > 0:
        scheduler.last_epoch -= 1
        scheduler.step()


def callable_config(factory: Any) -> dict[str, Any] | None:
    """``{"class_path", "init_args"}`` (plain data, as a config writes it) of an optimizer/scheduler
    factory: a class or a ``functools.partial`` of one (what LightningCLI passes). Other callables
    (lambdas) are not stored: pass them again when loading the checkpoint."""
    if factory is None or isinstance(factory, dict):
        return factory
    cls, init_args = (factory.func, dict(factory.keywords)) if isinstance(factory, functools.partial) and not factory.args else (factory, {})
    return {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": init_args} if isinstance(cls, type) else None


def from_config(option: str, factory: Any) -> Any:
    """The factory a ``{"class_path", "init_args"}`` dict (a checkpoint's hparams) describes; callables as given."""
    if isinstance(factory, dict) and "class_path" in factory:
        module, _, name = factory["class_path"].rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            cls = None
        require(cls is not None, option, factory["class_path"], "give an importable class path, e.g. torch.optim.SGD")
        return functools.partial(cls, **(factory.get("init_args") or {}))
    require(factory is None or callable(factory), option, factory, "give a class path (e.g. torch.optim.SGD with its init_args) or null")
    return factory


def optimizer_and_schedule(module: Any, net: str, parameters: Any) -> tuple[torch.optim.Optimizer, LRScheduler | None]:
    """Net ``net``'s (``"d"`` or ``"g"``) optimizer, ``module.factories["optimizer_<net>"]`` or Adam with the
    module's ``lr_<net>``/``betas_<net>``, and its schedule: ``scheduler_<net>``, else the linear decay to
    ``module.max_iterations`` when ``lr_decay="linear"``, else none."""
    hp = module.hparams
    make = module.factories[f"optimizer_{net}"] or functools.partial(torch.optim.Adam, lr=hp[f"lr_{net}"], betas=tuple(hp[f"betas_{net}"]))
    optimizer = make(list(parameters))
    schedule = module.factories[f"scheduler_{net}"]
    if schedule is None and hp.lr_decay == "linear":
        schedule = functools.partial(linear_decay_schedule, module=module)
    scheduler = None if schedule is None else schedule(optimizer)
    require(not isinstance(scheduler, ReduceLROnPlateau), f"scheduler_{net}", "ReduceLROnPlateau",
            "schedules here step once per generator iteration without a metric; use e.g. StepLR or ExponentialLR")
    return optimizer, scheduler


def ema_copy(generator: nn.Module, decay: float) -> AveragedModel:
    """An exponential moving average of ``generator``'s weights and buffers with ``decay``."""
    ema = AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    ema.requires_grad_(False)  # never trained, only averaged
    return ema
