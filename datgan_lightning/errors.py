"""Errors for bad user input found after construction; their message is one sentence with the fix.

The ``datgan`` command prints these (and its parser's errors) as one ``error:`` line on stderr, with no
traceback; :func:`one_line` condenses jsonargparse's nested messages into that line.
"""

from __future__ import annotations

import difflib
import importlib
import math
import re
from typing import Any

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


# ---------------------------------------------------------------- jsonargparse's messages in one line
_TYPE_NAMES = {"float": "a number", "int": "an integer", "bool": "true or false", "str": "a string", "NoneType": "null",
               "PositiveInt": "an integer >= 1", "NonNegativeInt": "an integer >= 0", "PositiveFloat": "a number > 0",
               "NonNegativeFloat": "a number >= 0", "ClosedUnitInterval": "a number in [0, 1]", "OpenUnitInterval": "a number in (0, 1)"}
_STRUCTURE = ("Does not validate against any of", "Subtypes:", "Errors:", "Given value type:", "Given value:")


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


def accepted_options(class_path: str) -> list[str]:
    """The options of a class as the command line sees them (jsonargparse follows ``**kwargs`` to the bases)."""
    from jsonargparse import ArgumentParser

    module, _, name = class_path.rpartition(".")
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(getattr(importlib.import_module(module), name), fail_untyped=False, sub_configs=True)
    return [key for key in vars(parser.get_defaults()) if key != "__path__"]


def _classes_in(module_name: str, option: str = "") -> list[str]:
    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - only a hint
        return []
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    classes = [getattr(module, n, None) for n in names]
    base: Any = None
    if option in ("model", "data"):
        import lightning.pytorch as pl

        base = pl.LightningModule if option == "model" else pl.LightningDataModule
    return sorted(c.__name__ for c in classes if isinstance(c, type) and (base is None or issubclass(c, base)))


def _option(path: list[str]) -> str:
    return "--" + ".".join(path) if path else "an option"


def one_line(message: str, prog: str = "datgan", config_files: list[str] | None = None) -> str:
    """jsonargparse's (often 50+ line, nested "Union subtypes") message as one sentence naming the
    option (as it is spelled on the command line) and the fix.

    Example:
        >>> one_line('Parser key "model":\\n  Errors:\\n    - Problem with given class_path \\'x.Toy\\':\\n'
        ...          '        Parser key "eps":\\n          Expected a <class \\'float\\'>. Got value: abc')
        "--model.init_args.eps: expected a number, got 'abc'."
    """
    text = message.strip()
    if "\n" not in text and not text.startswith("Parser key"):
        return _simple(text, prog)
    if text.startswith("Problems parsing config"):
        return _yaml_error(text, config_files or [])
    path: list[str] = []  # the key path down to the innermost error
    stack: list[tuple[int, str]] = []  # (indent, segment) of enclosing keys and class paths
    best: tuple[int, str, list[str]] | None = None
    for raw in text.splitlines():
        if not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip(" -"))
        line = raw.strip().lstrip("- ").strip()
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = re.match(r'Parser key "([^"]+)":\s*(.*)$', line)
        problem = re.match(r"Problem with given class_path '([^']+)':\s*(.*)$", line)
        if key:
            stack.append((indent, key.group(1)))
            rest = key.group(2)
            if rest:  # 'Parser key "config": File does not exist: ...'
                candidate = (indent + 1, rest, [s for _, s in stack])
                best = candidate if best is None or candidate[0] >= best[0] else best
            continue
        if problem:
            stack.append((indent, "init_args@" + problem.group(1)))
            continue
        if line.startswith(_STRUCTURE) or line == "Expected a <class 'NoneType'>":
            continue
        if best is None or indent > best[0]:
            best = (indent, line, [s for _, s in stack])
    if best is None:
        return _first_line(text)
    _, leaf, segments = best
    path = []
    owner = None
    for segment in segments:
        if segment.startswith("init_args@"):
            owner = segment.split("@", 1)[1]
            path.append("init_args")
        else:
            path.extend(segment.split("."))
    return _describe(leaf, path, owner, text, prog)


def _given_value(text: str) -> str | None:
    match = re.findall(r"Given value: (?:NestedArg\(key='[^']*', val=)?'?([^'\n)]*)'?\)?$", text, flags=re.M)
    return match[0] if match else None


def _describe(leaf: str, path: list[str], owner: str | None, text: str, prog: str) -> str:
    option = _option(path)
    expected = re.match(r"Expected a <class '(?:[\w.]+\.)?(\w+)'>(?:\. Got value: (.*))?", leaf)
    if expected:
        value = expected.group(2) if expected.group(2) is not None else _given_value(text)
        if value is not None and _is_number(value) and not math.isfinite(float(value)):
            return f"{option}: {non_finite(path[-1] if path else 'value', value)}"
        want = _TYPE_NAMES.get(expected.group(1), expected.group(1))
        return f"{option}: expected {want}, got {value!r}." if value is not None else f"{option}: expected {want}."
    restricted = re.match(r"Not of type (\w+): (.*)", leaf)  # jsonargparse.typing's restricted numbers
    if restricted:
        want = _TYPE_NAMES.get(restricted.group(1), restricted.group(1))
        return f"{option}: {path[-1] if path else 'value'}={_given_value(text)} is invalid; use {want}."
    not_accepted = re.search(r"Option '([^']+)' is not accepted|No action for key \"([^\"]+)\"|Key '([^']+)' is not expected", leaf)
    if not_accepted:
        name = next(group for group in not_accepted.groups() if group)
        known = accepted_options(owner) if owner else []
        cls = owner.rpartition(".")[2] if owner else "this class"
        options = f"; its options are {', '.join(known)}" if known else f"; `{prog} --help` lists the options"
        return f"{_option([*path, name])}: {cls} has no option {name!r}{_closest(name, known)}{options}."
    missing_attr = re.match(r"module '([\w.]+)' has no attribute '(\w+)'", leaf)
    if missing_attr or leaf.startswith(("No module named", "Import path", "Unable to import")) or "not a subclass" in leaf:
        value = owner or _given_value(text) or "?"
        module = missing_attr.group(1) if missing_attr else value.rpartition(".")[0]
        key = [p for p in path if p != "init_args"]
        choices = _classes_in(module, key[-1] if len(key) == 1 else "") if module else []
        hint = f"; choose one of {', '.join(choices)}" if choices else "; give an importable class path, e.g. datgan_lightning.modules.Toy2DGAN"
        name = missing_attr.group(2) if missing_attr else value
        return f"{_option(path[:-1] if path and path[-1] == 'init_args' else path)}: unknown class {name!r}{_closest(name, choices)}{hint}."
    if leaf.startswith("File does not exist") or "does not exist" in leaf:
        return f"{option}: {leaf.rstrip('.')}; check the path (relative to the current directory, or to the config file that names it)."
    return f"{option}: {_first_line(leaf).rstrip('.')}." if path else _first_line(leaf)


def _simple(text: str, prog: str) -> str:
    unknown = re.match(r"unrecognized arguments: (.*?)\.?$", text, flags=re.I)  # jsonargparse < 4.40: "Unrecognized ... --x."
    if unknown:
        return f"unknown option(s): {unknown.group(1)}; `{prog} --help` lists the options (a class's own options: `{prog} --model.help CLASS`)."
    return text


def _yaml_error(text: str, config_files: list[str]) -> str:
    import yaml

    for path in config_files:
        try:
            with open(path) as f:
                yaml.safe_load(f)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or _first_line(str(err))
            return f"--config {path}: YAML syntax error at{where}: {problem}; fix the file (indentation, brackets, quotes)."
        except OSError:
            continue
    body = " ".join(line.strip() for line in text.splitlines()[1:])
    return f"a config is not valid YAML: {_first_line(text)} {body}".strip()
