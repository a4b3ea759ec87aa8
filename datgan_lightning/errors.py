"""Errors for bad user input, and which errors are the user's; their message is one sentence with the fix.

The ``datgan`` command prints these (and its parser's errors) as one ``error:`` line on stderr, with no
traceback: :func:`user_error` tells a user's error from a bug, :func:`one_line` condenses jsonargparse's
nested report into that line.
"""

from __future__ import annotations

import difflib
import importlib
import math
import re

from datgan_lightning.checks import non_finite


class ConfigurationError(ValueError):
    """The data and the model (or an option and the files on disk) do not fit together."""


class DatasetNotFoundError(ConfigurationError, FileNotFoundError):
    """A dataset is not where its ``root``/``path`` option says."""


class DatasetTooSmallError(ConfigurationError):
    """A training set with fewer samples than one batch: ``drop_last`` would leave no batch to train on."""


class CorruptImageError(ConfigurationError):
    """An image file that cannot be decoded; the message names the file."""


class CheckpointError(ConfigurationError):
    """A checkpoint that is missing, unreadable, or of another model than the config builds."""


class DivergenceError(RuntimeError):
    """Training stopped on a non-finite loss or weight (see :class:`~datgan_lightning.callbacks.DivergenceGuard`)."""


def user_error(err: BaseException) -> tuple[str, int] | None:
    """``(one-line message, exit code)`` for an error a user can fix; ``None`` for a bug (traceback kept)."""
    message = str(err)
    if "Original Traceback" in message:  # raised in a DataLoader worker: the worker's traceback precedes it
        kind, _, text = [line for line in message.strip().splitlines() if line.strip()][-1].partition(": ")
        message = text if text and kind.isidentifier() else kind
    if isinstance(err, (DivergenceError, ConfigurationError)):
        return message, 1 if isinstance(err, DivergenceError) else 2
    if isinstance(err, RuntimeError) and "Error(s) in loading state_dict" in message:
        detail = next((line.strip() for line in message.splitlines()[1:] if line.strip()), "").rstrip(".")
        return (f"the checkpoint's weights do not fit the model the options build ({detail}); options that change the nets' "
                "shapes cannot change on resume: drop them, or start a new run without --ckpt_path"), 2
    if isinstance(err, (PermissionError, NotADirectoryError, IsADirectoryError, FileExistsError)) and err.filename:
        return f"cannot write {err.filename!r} ({err.strerror}); choose a writable output folder (--trainer.logger.init_args.save_dir)", 2
    return None


def accepted_options(class_path: str) -> list[str]:
    """The options of a class as the command line sees them (jsonargparse follows ``**kwargs`` to the bases)."""
    from jsonargparse import ArgumentParser

    module, _, name = class_path.rpartition(".")
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(getattr(importlib.import_module(module), name), fail_untyped=False, sub_configs=True)
    return [key for key in vars(parser.get_defaults()) if key != "__path__"]


# ---------------------------------------------------------------- jsonargparse's report in one line
_TYPE_NAMES = {"float": "a number", "int": "an integer", "bool": "true or false", "str": "a string", "NoneType": "null",
               "PositiveInt": "an integer >= 1", "NonNegativeInt": "an integer >= 0", "PositiveFloat": "a number > 0",
               "NonNegativeFloat": "a number >= 0", "ClosedUnitInterval": "a number in [0, 1]", "OpenUnitInterval": "a number in (0, 1)"}
_STRUCTURE = ("Does not validate against any of", "Subtypes:", "Errors:", "Given value type:", "Given value:", "Expected a <class 'NoneType'>")


def one_line(message: str, prog: str = "datgan") -> str:
    """jsonargparse's (often 50+ line, nested "Union subtypes") report as one sentence naming the option
    (as it is spelled on the command line) and the fix; a message of one line is kept.

    Example:
        >>> one_line('Parser key "model":\\n  Errors:\\n    - Problem with given class_path \\'x.Toy\\':\\n'
        ...          '        Parser key "eps":\\n          Expected a <class \\'float\\'>. Got value: abc')
        "--model.init_args.eps: expected a number, got 'abc'."
    """
    text = message.strip()
    if "\n" not in text and not text.startswith("Parser key"):
        unknown = re.match(r"unrecognized arguments: (.*?)\.?$", text, flags=re.I)
        return f"unknown option(s): {unknown[1]}; `{prog} --help` lists the options (a class's own: `{prog} --model.help CLASS`)." if unknown else text
    if text.startswith("Problems parsing config"):  # a config named inside a config file (the command checks those it is given)
        return f"a config is not valid YAML: {' '.join(text.split())}"
    leaf, path, owner = _innermost(text)
    option, name, given = "--" + ".".join(path) if path else "an option", path[-1] if path else "value", _given_value(text)
    if expected := re.match(r"Expected a <class '(?:[\w.]+\.)?(\w+)'>(?:\. Got value: (.*))?", leaf):
        value = given if expected[2] is None else expected[2]
        if value is not None and _is_number(value) and not math.isfinite(float(value)):
            return f"{option}: {non_finite(name, value)}"
        return f"{option}: expected {_TYPE_NAMES.get(expected[1], expected[1])}" + (f", got {value!r}." if value is not None else ".")
    if restricted := re.match(r"Not of type (\w+): ", leaf):  # jsonargparse.typing's restricted numbers
        return f"{option}: {name}={given} is invalid; use {_TYPE_NAMES.get(restricted[1], restricted[1])}."
    if unknown := re.search(r"Option '([^']+)' is not accepted|No action for key \"([^\"]+)\"|Key '([^']+)' is not expected", leaf):
        key = next(group for group in unknown.groups() if group)
        known = accepted_options(owner) if owner else []
        options = f"; its options are {', '.join(known)}" if known else f"; `{prog} --help` lists the options"
        return f"--{'.'.join([*path, key])}: {owner.rpartition('.')[2] if owner else 'this class'} has no option {key!r}{_closest(key, known)}{options}."
    missing = re.match(r"module '([\w.]+)' has no attribute '(\w+)'", leaf)
    if missing or leaf.startswith(("No module named", "Import path", "Unable to import")) or "not a subclass" in leaf:
        class_path = owner or given or "?"
        module, name = (missing[1], missing[2]) if missing else (class_path.rpartition(".")[0], class_path)
        keys = [p for p in path if p != "init_args"]
        choices = _classes_in(module, keys[-1] if len(keys) == 1 else "") if module else []
        hint = f"; choose one of {', '.join(choices)}" if choices else "; give an importable class path, e.g. datgan_lightning.modules.Toy2DGAN"
        where = "--" + ".".join(path[:-1] if path[-1:] == ["init_args"] else path) if path else "an option"
        return f"{where}: unknown class {name!r}{_closest(name, choices)}{hint}."
    if "does not exist" in leaf:
        return f"{option}: {leaf.rstrip('.')}; check the path (relative to the current directory, or to the config file that names it)."
    return f"{option}: {_first_line(leaf).rstrip('.')}." if path else _first_line(leaf)


def _innermost(text: str) -> tuple[str, list[str], str | None]:
    """The deepest error of a nested report, the option path down to it and the class that owns the option."""
    stack: list[tuple[int, str]] = []  # (indent, key or "@class_path") of the enclosing entries
    best: tuple[int, str, list[str]] = (-1, _first_line(text), [])
    for raw in filter(str.strip, text.splitlines()):
        indent, line = len(raw) - len(raw.lstrip(" -")), raw.strip().lstrip("- ").strip()
        stack = [entry for entry in stack if entry[0] < indent]
        key = re.match(r'Parser key "([^"]+)":\s*(.*)$', line)
        problem = re.match(r"Problem with given class_path '([^']+)':", line)
        if key or problem:
            stack.append((indent, key[1] if key else "@" + problem[1]))
            if key and key[2] and indent + 1 >= best[0]:  # 'Parser key "config": File does not exist: ...'
                best = (indent + 1, key[2], [s for _, s in stack])
        elif not line.startswith(_STRUCTURE) and indent > best[0]:
            best = (indent, line, [s for _, s in stack])
    path = [part for s in best[2] for part in (["init_args"] if s.startswith("@") else s.split("."))]
    owner = next((s[1:] for s in reversed(best[2]) if s.startswith("@")), None)
    return best[1], path, owner


def _given_value(text: str) -> str | None:
    match = re.findall(r"Given value: (?:NestedArg\(key='[^']*', val=)?'?([^'\n)]*)'?\)?$", text, flags=re.M)
    return match[0] if match else None


def _first_line(text: str) -> str:
    return " ".join(text.strip().split("\n")[0].split())


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _closest(name: str, choices: list[str]) -> str:
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _classes_in(module_name: str, option: str = "") -> list[str]:
    """The classes a module exports (for ``--model``/``--data``: its Lightning modules/datamodules), as a hint."""
    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - only a hint
        return []
    base = {"model": "LightningModule", "data": "LightningDataModule"}.get(option)
    classes = [getattr(module, n, None) for n in getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]]
    return sorted(c.__name__ for c in classes if isinstance(c, type) and (base is None or base in {b.__name__ for b in c.__mro__}))
