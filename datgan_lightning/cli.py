"""The ``datgan`` command: LightningCLI over any GAN module and any datamodule.

    datgan fit --config configs/toy2d/gan_dat_imbalanced.yaml
    datgan fit --config configs/toy2d/gan_dat_imbalanced.yaml --model.init_args.perturbation.init_args.eps 0.6
    datgan fit --config configs/toy2d/gan_dat_imbalanced.yaml --ckpt_path runs/.../last.ckpt   # resume
    datgan evaluate --config configs/cpu/dcgan_mnist_dat.yaml --ckpt_path runs/.../last.ckpt

``evaluate`` loads a checkpoint and prints (and writes as JSON) the numbers of the metric callbacks
in the config (``ImageQualityMetrics``, ``RobustnessMetrics``).

What the command adds to LightningCLI:

* bad input ends with one ``error:`` line on stderr (exit code 2) naming the option and the fix, no
  usage block, no traceback; no run folder is left behind for it (``--help`` keeps the long form);
* ``threads:`` (top-level key or ``--threads N``): the intra-op thread count, set before anything is built;
* every run gets :class:`~datgan_lightning.callbacks.ResumeState` (exact resume),
  :class:`~datgan_lightning.callbacks.DivergenceGuard` (stops on NaN/inf, exit code 1) and
  :class:`~datgan_lightning.checkpoint_io.AtomicCheckpointIO` unless the config has its own;
* ``--ckpt_path``: the checkpoint's model hyperparameters replace the config files' model section, and
  ``--model...`` options given on the command line replace the checkpoint's (a changed ``max_iterations``
  extends the run, a changed ``lr_*``/``betas_*`` reaches the restored optimizers); a checkpoint of
  another model class, or a missing or unreadable one, is refused in one line;
* ``fit`` ends by printing where its outputs went;
* ``--trainer.devices N`` / ``--trainer.num_nodes N`` train with the ``gan_ddp`` strategy
  (:mod:`datgan_lightning.distributed`) when ``strategy`` is left at ``auto``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sys
from pathlib import Path
from typing import Any, NoReturn, Optional

import torch
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from datgan_lightning.callbacks.divergence import DivergenceGuard
from datgan_lightning.callbacks.resume import ResumeState
from datgan_lightning.checkpoint_io import AtomicCheckpointIO
from datgan_lightning.distributed import default_strategy
from datgan_lightning.errors import CheckpointError, ConfigurationError, DivergenceError, non_finite, one_line
from datgan_lightning.evaluation import evaluate_checkpoint
from datgan_lightning.modules.gan import GAN
from datgan_lightning.utils import load_checkpoint

PROG = "datgan"
LIGHTNING_CKPT_KEYWORDS = ("last", "best", "hpc")


class DatganTrainer(Trainer):
    """Lightning's Trainer plus the ``evaluate`` verb."""

    def evaluate(
        self, model: LightningModule, datamodule: LightningDataModule | None = None, ckpt_path: str | None = None, out: str | None = None
    ) -> dict[str, Any]:
        """Score ``ckpt_path`` with the configured metric callbacks; print and write JSON (``out``,
        default ``<checkpoint>.metrics.json``)."""
        evaluators = [c for c in self.callbacks if callable(getattr(c, "evaluate", None))]
        return evaluate_checkpoint(model, datamodule, evaluators, ckpt_path, self.strategy.root_device, out)


def _config_files(args: list[str] | None) -> list[str]:
    files, args = [], list(args or [])
    for i, arg in enumerate(args):
        if arg in ("-c", "--config") and i + 1 < len(args):
            files.append(args[i + 1])
        elif arg.startswith("--config="):
            files.append(arg.split("=", 1)[1])
    return files


class DatganArgumentParser(LightningArgumentParser):
    """LightningArgumentParser whose errors are one ``error:`` line (see :func:`~datgan_lightning.errors.one_line`);
    ``--help`` is unchanged. ``JSONARGPARSE_DEBUG=1`` raises the full error instead."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        from jsonargparse._common import debug_mode_active

        if not self.exit_on_error or debug_mode_active():
            super().error(message, ex)
        args = getattr(self, "args", None) or sys.argv[1:]
        sys.stderr.write(f"error: {one_line(message, PROG, _config_files(args))}\n")
        sys.stderr.flush()
        raise SystemExit(2)


class _ConsoleHandler(logging.StreamHandler):
    """Lightning's console messages: information to stdout (looked up when written), warnings and
    errors to stderr; so stderr holds only what went wrong."""

    def emit(self, record: logging.LogRecord) -> None:
        self.setStream(sys.stdout if record.levelno < logging.WARNING else sys.stderr)
        super().emit(record)


def route_lightning_info_to_stdout() -> None:
    for name in ("lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:  # Lightning's console handler (to stderr)
                logger.removeHandler(handler)
                replacement = _ConsoleHandler()
                replacement.setLevel(handler.level)
                replacement.setFormatter(handler.formatter)
                logger.addHandler(replacement)


def user_error(err: BaseException) -> tuple[str, int, bool] | None:
    """``(one-line message, exit code, remove the new run folder)`` for the errors a user can fix;
    ``None`` for everything else (a bug: the traceback is kept)."""
    if isinstance(err, DivergenceError):
        return _strip_worker_traceback(str(err)), 1, False
    if isinstance(err, ConfigurationError):
        return _strip_worker_traceback(str(err)), 2, True
    if isinstance(err, RuntimeError) and "Error(s) in loading state_dict" in str(err):
        detail = next((line.strip() for line in str(err).splitlines()[1:] if line.strip()), "")
        return (
            f"the checkpoint's weights do not fit the model the options build ({detail.rstrip('.')}); options that change "
            "the nets' shapes cannot change on resume: drop them, or start a new run without --ckpt_path",
            2,
            True,
        )
    if isinstance(err, MisconfigurationException):
        return " ".join(str(err).split()), 2, True
    if isinstance(err, (PermissionError, NotADirectoryError, IsADirectoryError, FileExistsError)) and err.filename:
        return f"cannot write {err.filename!r} ({err.strerror}); choose a writable output folder (--trainer.logger.init_args.save_dir or --trainer.default_root_dir)", 2, True
    return None


def _strip_worker_traceback(message: str) -> str:
    # an error raised in a DataLoader worker comes back with the worker's traceback in its message
    if "Original Traceback" in message:
        last = [line for line in message.strip().splitlines() if line.strip()][-1]
        return last.split(": ", 1)[1] if ": " in last and last.split(": ", 1)[0].isidentifier() else last
    return message


class _NewRunFolder:
    """The run folder a ``fit`` is about to create, and its ancestors that do not exist yet: removed
    again when the run is rejected before it wrote a checkpoint."""

    def __init__(self, trainer: Trainer) -> None:
        log_dir = trainer.log_dir if trainer.loggers else None
        self.path = Path(log_dir) if log_dir else None
        self.created: list[Path] = []
        if self.path is not None:
            self.created = [p for p in (self.path, *self.path.parents) if not p.exists()]

    def remove(self) -> None:
        if self.path is None or self.path not in self.created or not self.path.exists():
            return
        if any(self.path.rglob("*.ckpt")):
            return
        shutil.rmtree(self.path, ignore_errors=True)
        for parent in self.created[1:]:
            try:
                parent.rmdir()  # only if empty
            except OSError:
                break

    def check_writable(self) -> None:
        if self.path is None:
            return
        existing = next((p for p in (self.path, *self.path.parents) if p.exists()), None)
        if existing is not None and (not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK)):
            problem = "is not a directory" if not existing.is_dir() else "is not writable"
            raise ConfigurationError(
                f"cannot write the run's outputs to {str(self.path)!r}: {str(existing)!r} {problem}; choose another "
                "--trainer.logger.init_args.save_dir (or --trainer.default_root_dir)."
            )


def _explicit_model_args(args: list[str]) -> tuple[list[str], list[str]]:
    """Split command-line tokens into ``--model...`` options (with their values) and the rest."""
    model, other, i = [], [], 0
    while i < len(args):
        arg = args[i]
        if arg == "--model" or arg.startswith(("--model.", "--model=")):
            takes_value = "=" not in arg and not arg.endswith(".help")
            model.extend(args[i : i + 2] if takes_value else [arg])
            i += 2 if takes_value else 1
        else:
            other.append(arg)
            i += 1
    return model, other


def _non_finite_values(config: Any, prefix: str = "") -> list[tuple[str, float]]:
    """``(dotted key, value)`` of every NaN/inf float in a parsed config (Namespace, dicts, lists)."""
    found: list[tuple[str, float]] = []
    items = vars(config).items() if hasattr(config, "__dict__") and not isinstance(config, type) else (
        config.items() if isinstance(config, dict) else enumerate(config) if isinstance(config, (list, tuple)) else []
    )  # fmt: skip
    for key, value in items:
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, float) and not math.isfinite(value):
            found.append((name, value))
        elif isinstance(value, (dict, list, tuple)) or (hasattr(value, "__dict__") and type(value).__name__ == "Namespace"):
            found.extend(_non_finite_values(value, name))
    return found


def _same_class(a: str, b: str) -> bool:
    import importlib

    def resolve(path: str) -> Any:
        module, _, name = path.rpartition(".")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            return path

    return a == b or resolve(a) is resolve(b)


def _filter_init_args(class_path: str, hparams: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's hyperparameters that the class (as jsonargparse sees it) accepts."""
    import importlib

    from jsonargparse._parameter_resolvers import get_signature_parameters

    module, _, name = class_path.rpartition(".")
    try:
        accepted = {p.name for p in get_signature_parameters(getattr(importlib.import_module(module), name), None)}
    except Exception:  # noqa: BLE001 - keep everything; the parser will say what is wrong
        return hparams
    return {k: v for k, v in hparams.items() if k in accepted}


class DatganCLI(LightningCLI):
    """LightningCLI whose bad input ends in one ``error:`` line, with threads, exact resume, a divergence
    guard and atomic checkpoints (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parser_class", DatganArgumentParser)
        parser_kwargs = kwargs.setdefault("parser_kwargs", {})
        parser_kwargs.setdefault("prog", PROG)
        self._run_folder: _NewRunFolder | None = None
        super().__init__(*args, **kwargs)

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {**LightningCLI.subcommands(), "evaluate": {"model", "datamodule"}}

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--threads", type=Optional[int], default=None,
            help="Intra-op CPU threads (torch.set_num_threads), set before anything is built; null keeps "
                 "PyTorch's default (one per core). Small models (the 2D toys) are fastest with 1, and a "
                 "single thread does not slow down when another process keeps a core busy.",
        )  # fmt: skip

    # ------------------------------------------------------------ parsing
    def _parse_ckpt_path(self) -> None:
        """Check ``--ckpt_path`` and merge its hyperparameters: the checkpoint's model options replace
        the config files', explicit ``--model...`` command-line options replace the checkpoint's."""
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        path = self.config[subcommand].get("ckpt_path")
        if not path or str(path) in LIGHTNING_CKPT_KEYWORDS or str(path).startswith("registry"):
            return super()._parse_ckpt_path()
        try:
            checkpoint = load_checkpoint(path)
        except CheckpointError as err:
            self.parser.error(f"--ckpt_path: {err}")
        hparams = dict(checkpoint.get("hyper_parameters") or {})
        hparams.pop("_instantiator", None)
        class_path = hparams.pop("_class_path", None)
        model = self.config[subcommand].get("model")
        configured = model.get("class_path") if model is not None and hasattr(model, "get") else None
        if class_path and configured and not _same_class(class_path, configured):
            self.parser.error(
                f"--ckpt_path {path}: the checkpoint holds a {class_path.rpartition('.')[2]} ({class_path}) but the "
                f"config builds a {configured.rpartition('.')[2]} ({configured}); pass the config the checkpoint was "
                "trained with (its run folder keeps it as config.yaml)."
            )
        args = getattr(self.parser, "args", None)
        if not class_path or not hparams or not isinstance(args, list):
            return  # a checkpoint not written through this CLI: its weights are loaded into the configured model
        model_args, other_args = _explicit_model_args(args)
        stored = {"class_path": class_path, "init_args": _filter_init_args(class_path, hparams)}
        self.config = self.parser.parse_args([*other_args, f"--model={json.dumps(stored)}", *model_args])

    def before_instantiate_classes(self) -> None:
        config = self.config.get(str(self.subcommand), self.config)
        for key, value in _non_finite_values(config):  # e.g. `lr_g: .inf` in a YAML file
            self.parser.error(f"--{key}: {non_finite(key.rpartition('.')[2], value)}")
        threads = config.get("threads")
        if threads is not None:
            if threads < 1:
                self.parser.error(f"--threads: threads={threads} is invalid; use an integer >= 1, or null for PyTorch's default.")
            torch.set_num_threads(threads)
        if self.subcommand == "evaluate" and not config.get("ckpt_path"):
            self.parser.error(
                "evaluate: --ckpt_path is required; pass the checkpoint to score, e.g. --ckpt_path <run>/checkpoints/last.ckpt."
            )

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except ValueError as err:  # our constructors' checks: one sentence naming option, value and fix
            while isinstance(err.__cause__ or err.__context__, ValueError):
                err = err.__cause__ or err.__context__  # jsonargparse wraps the constructor's error
            self.parser.error(str(err))

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Any]) -> Trainer:
        given = config.get("callbacks")
        given = [] if given is None else list(given) if isinstance(given, (list, tuple)) else [given]
        present = [*given, *callbacks]
        defaults = [cls() for cls in (ResumeState, DivergenceGuard) if not any(isinstance(c, cls) for c in present)]
        config["callbacks"] = given
        plugins = config.get("plugins")
        plugins = [] if plugins is None else list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            config["plugins"] = [*plugins, AtomicCheckpointIO()]
        if config.get("strategy", "auto") == "auto":  # several processes: gan_ddp, not Lightning's ddp
            config["strategy"] = default_strategy(config.get("accelerator", "auto"), config.get("devices", "auto"), config.get("num_nodes", 1))
        return super()._instantiate_trainer(config, [*callbacks, *defaults])

    # ------------------------------------------------------------ running
    def before_fit(self) -> None:
        if self._run_folder is not None:
            self._run_folder.check_writable()
        datamodule = self.datamodule
        if datamodule is not None and type(datamodule).__module__.startswith("datgan_lightning.") and not getattr(datamodule, "download", False):
            datamodule.setup("fit")  # a missing, empty or too small dataset fails here, before Lightning makes the run folder
            if callable(getattr(datamodule, "check_trainable", None)):
                datamodule.check_trainable()

    def after_fit(self) -> None:
        trainer = self.trainer
        if not trainer.loggers:
            return
        run = Path(trainer.log_dir)  # a collective under DDP: every rank asks
        if not trainer.is_global_zero:
            return
        if not run.is_dir():
            return
        checkpoints = sorted(str(p) for p in run.rglob("*.ckpt"))
        last = next((c for c in checkpoints if c.endswith("last.ckpt")), checkpoints[-1] if checkpoints else None)
        contents = sorted(p.name + ("/" if p.is_dir() else "") for p in run.iterdir())
        print(f"Outputs of this run: {run}/ ({', '.join(contents)})")
        if last:
            print(f"  last checkpoint: {last} (resume with --ckpt_path {last})")

    def _run_subcommand(self, subcommand: str) -> None:
        if subcommand != "evaluate":  # Lightning's verbs make a run folder; note which folders are new
            self._run_folder = _NewRunFolder(self.trainer)
        try:
            super()._run_subcommand(subcommand)
        except Exception as err:
            described = user_error(err)
            if described is None:
                raise
            message, code, remove_run = described
            if remove_run and self._run_folder is not None and self.trainer.is_global_zero:
                self._run_folder.remove()
            sys.stderr.write(f"error: {message.rstrip('.')}.\n")
            sys.stderr.flush()
            raise SystemExit(code) from None


def create_cli(args: list[str] | None = None, run: bool = True) -> LightningCLI:
    """Build (and with ``run=True`` run) the CLI on ``args``; ``sys.argv`` when ``None``."""
    return DatganCLI(
        GAN,
        LightningDataModule,
        trainer_class=DatganTrainer,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=args,
        run=run,
        # training length is the module's max_iterations (generator iterations), not epochs
        trainer_defaults={"max_epochs": -1},
        save_config_kwargs={"overwrite": True},
    )


# Lightning warnings that every run of this package would print and that need no action: the image
# datamodules give an empty validation loader during fit on purpose (metrics run on their own schedule),
# a GAN's validation_step only serves `datgan validate`, and a torch-internal deprecation.
NOISE = (
    r"Total length of `(list|CombinedLoader|DataLoader)` across ranks is zero",
    r"You defined a `validation_step` but have no `val_dataloader`",
    r".*LeafSpec.* is deprecated",
    r"Using ModelCheckpoint with manual optimization",
    r"The dirpath has changed from",  # a resumed run writes to its own new version_N folder
)


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``datgan`` command, e.g. ``main(["fit", "--config", "configs/toy2d/gan_dat_balanced.yaml"])``."""
    import warnings

    route_lightning_info_to_stdout()
    for pattern in NOISE:
        warnings.filterwarnings("ignore", message=pattern)
    create_cli(args)


if __name__ == "__main__":
    main()
