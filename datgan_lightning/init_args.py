"""Objects that remember the arguments they were built with, so their config is what the user gave.

Regularizers and augmentations travel as plain data (``{"class_path", "init_args"}``) in YAML configs and
in checkpoints' hyperparameters. Reading the arguments back from attributes of the same name forces every
class to keep (or fake) such an attribute; here the constructor's arguments are bound once, when the
object is built, and :meth:`RecordsInitArgs.config` turns them into plain data. Plain Python and torch only.

Example:
    >>> class Scale(RecordsInitArgs):
    ...     def __init__(self, factor: float = 2.0, name: str = "x") -> None:
    ...         self.factor = float(factor)  # no attribute per argument is needed
    >>> Scale(3).config()["init_args"]
    {'factor': 3, 'name': 'x'}
"""

from __future__ import annotations

import inspect
import numbers
from typing import Any

from datgan_lightning.losses import GANLoss


class RecordsInitArgs:
    """Mixin: binds the arguments of ``type(self).__init__`` (defaults filled in) before ``__init__`` runs.

    The binding happens in ``__new__``, so it is the most derived class's signature whatever its
    ``__init__`` passes to ``super().__init__``, and no ``__init__`` is wrapped (signatures stay
    introspectable for jsonargparse). An object rebuilt by ``copy``/``pickle`` (``__new__`` without
    arguments) gets its recorded arguments back from its ``__dict__``.
    """

    _init_args: dict[str, Any]

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        instance = super().__new__(cls)
        signature = inspect.signature(cls.__init__)
        try:
            bound = signature.bind(instance, *args, **kwargs)
        except TypeError:  # wrong arguments (__init__ raises Python's own message), or copy/pickle's bare __new__
            return instance
        bound.apply_defaults()
        recorded: dict[str, Any] = {}
        for name, value in list(bound.arguments.items())[1:]:  # without self
            kind = signature.parameters[name].kind
            if kind == inspect.Parameter.VAR_KEYWORD:
                recorded.update(value)
            elif kind != inspect.Parameter.VAR_POSITIONAL:
                recorded[name] = value
        object.__setattr__(instance, "_init_args", recorded)  # before nn.Module.__init__: a plain attribute
        return instance

    @property
    def init_args(self) -> dict[str, Any]:
        """The constructor's arguments as given (defaults filled in)."""
        return dict(self.__dict__.get("_init_args", {}))

    def config(self) -> dict[str, Any]:
        """``{"class_path", "init_args"}`` of this object as plain data: tuples as lists, numbers as ``int``
        or ``float``, a loss as its name, a nested configurable object as its own config."""
        init_args = {name: plain_data(value) for name, value in self.init_args.items()}
        return {"class_path": f"{type(self).__module__}.{type(self).__qualname__}", "init_args": init_args}


def plain_data(value: Any) -> Any:
    """``value`` as YAML/JSON-able data that ``torch.load(weights_only=True)`` accepts."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (tuple, list)):
        return [plain_data(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_data(v) for k, v in value.items()}
    if isinstance(value, GANLoss):
        return value.name
    if callable(getattr(value, "config", None)):  # an augmentation inside a regularizer, ...
        return value.config()
    return value  # anything else as it is (a user's own object: the checkpoint then needs weights_only=False)
