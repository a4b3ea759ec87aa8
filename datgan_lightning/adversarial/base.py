"""Base class of the perturbation strategies: plain PyTorch, no Lightning."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from datgan_lightning.adversarial.diagnostics import perturbation_size
from datgan_lightning.checks import check_finite
from datgan_lightning.losses import GANLoss, get_loss

POSITIONS = ("real", "fake")


def init_config(obj: Any) -> dict[str, Any]:
    """``{"class_path", "init_args"}`` of ``obj``: each argument of its class's ``__init__`` read back from the
    attribute of the same name, as plain data (tuples as lists, a ``GANLoss`` as its name)."""
    init_args = {}
    for name, parameter in inspect.signature(type(obj).__init__).parameters.items():
        if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        value = getattr(obj, name)
        if isinstance(value, GANLoss):
            value = value.name
        init_args[name] = list(value) if isinstance(value, tuple) else value
    return {"class_path": f"{type(obj).__module__}.{type(obj).__qualname__}", "init_args": init_args}


def build_from_config(config: dict[str, Any], base: type, option: str) -> Any:
    """Rebuild an object from :func:`init_config`'s output, refusing a class that is not a ``base``."""
    module, _, name = config["class_path"].rpartition(".")
    cls = getattr(importlib.import_module(module), name, None)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"{option} class_path={config['class_path']!r} is not a {base.__name__}.")
    return cls(**config.get("init_args", {}))


class PerturbationStrategy:
    """A callable ``strategy(discriminator, real, fake) -> (real_adv, fake_adv)``.

    The returned tensors are detached and have the shapes of the inputs; a batch
    whose position is not selected comes back unchanged.

    Args:
        eps: perturbation size (its meaning is the subclass's; must be >= 0).
        positions: which batches to perturb, a subset of ``("real", "fake")``.
        data_range: ``(low, high)`` the perturbed samples are clamped to;
            ``(-1, 1)`` for images in [-1, 1], ``None`` for unbounded data such as the 2D mixtures.
        loss: the GAN loss (name or object) whose ``g1``/``g2`` define the attack; ``None``
            lets the GAN module fill in its own loss.
    """

    def __init__(
        self,
        eps: float,
        positions: Sequence[str] = POSITIONS,
        data_range: tuple[float, float] | None = (-1.0, 1.0),
        loss: str | GANLoss | None = None,
    ) -> None:
        check_finite(type(self).__name__, eps=eps)
        if eps < 0:
            raise ValueError(f"{type(self).__name__}: eps={eps} is negative; use eps >= 0 (0 disables the perturbation).")
        if isinstance(positions, str):
            positions = (positions,)
        unknown = [p for p in positions if p not in POSITIONS]
        if unknown or not positions:
            raise ValueError(
                f"{type(self).__name__}: positions={tuple(positions)!r} is invalid; "
                f"use a non-empty subset of {POSITIONS}."
            )
        if data_range is not None:
            check_finite(type(self).__name__, data_range_low=data_range[0], data_range_high=data_range[1])
        if data_range is not None and not data_range[0] < data_range[1]:
            raise ValueError(f"{type(self).__name__}: data_range={data_range} must be (low, high) with low < high, or None.")
        self.eps = float(eps)
        self.positions = tuple(p for p in POSITIONS if p in positions)
        self.data_range = None if data_range is None else (float(data_range[0]), float(data_range[1]))
        self.loss = None if loss is None else get_loss(loss)

    #: whether the returned batches have the inputs' sizes (DATT returns clean and perturbed together)
    keeps_batch_size = True
    #: set True (the GAN module does on its logged steps) and the next call records the size of its
    #: perturbation for :meth:`log_values`; off, nothing is computed
    record = False

    def __call__(self, discriminator: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    @property
    def requires_loss(self) -> bool:
        """Whether the attack uses ``g1``/``g2`` (and so needs ``loss``)."""
        return True

    def _loss(self) -> GANLoss:
        if self.loss is None:
            raise ValueError(
                f"{type(self).__name__} needs a GAN loss for its attack: pass loss='ns' (or 'hinge', ...) "
                "or use it inside a GAN module, which sets its own loss."
            )
        return self.loss

    def _leaves(self, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        """Detached copies, requiring grad only where a gradient is needed."""
        real = real.detach().requires_grad_("real" in self.positions)
        fake = fake.detach().requires_grad_("fake" in self.positions)
        return real, fake

    def _input_grads(self, objective: Tensor, real: Tensor, fake: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """Gradient of ``objective`` with respect to the selected inputs only (no parameter grads)."""
        inputs = [x for x in (real, fake) if x.requires_grad]
        grads = iter(torch.autograd.grad(objective, inputs))
        return (next(grads) if real.requires_grad else None, next(grads) if fake.requires_grad else None)

    def log_values(self) -> dict[str, float]:
        """The size of the last recorded perturbation: ``<real|fake>/mean_grey``, ``/max_grey`` (|delta| per
        pixel in 8-bit grey levels of ``data_range``) and ``/grad_norm`` (mean L2 norm of the input gradient
        the step was made from); empty until a call with :attr:`record` on."""
        return dict(self.__dict__.get("_recorded", {}))

    def _record(self, position: str, clean: Tensor, perturbed: Tensor, grad: Tensor | None = None) -> None:
        """Keep :func:`~datgan_lightning.adversarial.diagnostics.perturbation_size` of one batch when recording."""
        if self.record:
            size = perturbation_size(clean, perturbed, self.data_range, grad)
            self.__dict__.setdefault("_recorded", {}).update({f"{position}/{k}": v for k, v in size.items()})

    def _clamp(self, x: Tensor) -> Tensor:
        return x if self.data_range is None else x.clamp(*self.data_range)

    def config(self) -> dict[str, Any]:
        """``{"class_path", "init_args"}`` of this strategy: plain data, as checkpoints and YAML configs hold it."""
        return init_config(self)

    @staticmethod
    def from_config(config: dict[str, Any]) -> PerturbationStrategy:
        """Rebuild a strategy from :meth:`config`'s output."""
        return build_from_config(config, PerturbationStrategy, "perturbation")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_") and k != "record")
        return f"{type(self).__name__}({args})"
