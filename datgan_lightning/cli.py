"""The ``datgan`` command: LightningCLI over any GAN module and any datamodule (docs/guides/cli.md).

    datgan fit --config configs/toy2d/gan_dat_imbalanced.yaml --model.init_args.perturbation.init_args.eps 0.6
    datgan fit --config <run>/config.yaml --ckpt_path <run>/checkpoints/last.ckpt   # resume
    datgan evaluate --config configs/cpu/dcgan_mnist_dat.yaml --ckpt_path <run>/checkpoints/last.ckpt

What it adds to LightningCLI, through its public hooks: bad input ends in one ``error:`` line (exit 2) naming
the option, the value and the fix, before any work and without a run folder (``DATGAN_DEBUG=1`` keeps the
full error); ``--threads N``; :class:`~datgan_lightning.callbacks.ResumeState`, :class:`~datgan_lightning.callbacks.DivergenceGuard`,
``RunFolder`` and :class:`~datgan_lightning.checkpoint_io.AtomicCheckpointIO` in every
run (a config's own instances win), ``gan_ddp`` for several processes; with ``--ckpt_path`` the checkpoint's
model options replace the config files' and ``--model...`` options on the command line replace the checkpoint's.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import pydoc
import sys
from typing import Any, NoReturn, Optional

import torch
import yaml
from jsonargparse.typing import PositiveInt
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from lightning.pytorch.utilities.rank_zero import rank_zero_only

import datgan_lightning.modules  # noqa: F401  registers gan_ddp; the modules a config names by class_path
from datgan_lightning import __version__
from datgan_lightning.callbacks.divergence import DivergenceGuard
from datgan_lightning.callbacks.resume import ResumeState
from datgan_lightning.callbacks.run_folder import RunFolder
from datgan_lightning.checkpoint_io import AtomicCheckpointIO
from datgan_lightning.distributed import default_strategy
from datgan_lightning.errors import CheckpointError, DivergenceError, accepted_options, one_line, user_error
from datgan_lightning.evaluation import DatganTrainer
from datgan_lightning.utils import load_checkpoint

PROG, DEBUG = "datgan", "DATGAN_DEBUG"
LIGHTNING_CKPT_KEYWORDS = ("last", "best", "hpc")


def _fail(message: str, code: int = 2) -> NoReturn:
    sys.stderr.write(f"error: {message.rstrip('.')}.\n")
    sys.stderr.flush()
    raise SystemExit(code)


def _check_yaml_syntax(parser: LightningArgumentParser, args: list[str]) -> None:
    """A ``--config`` file's YAML syntax error, with its line and column (jsonargparse's report gives neither)."""
    pairs = zip(args, [*args[1:], ""])
    for path in [b if a in ("-c", "--config") else a.split("=", 1)[1] for a, b in pairs if a in ("-c", "--config") or a.startswith("--config=")]:
        try:
            with open(path) as file:
                yaml.safe_load(file)
        except OSError:
            continue  # a missing file: jsonargparse says so
        except yaml.YAMLError as err:
            mark, problem = getattr(err, "problem_mark", None), getattr(err, "problem", None) or " ".join(str(err).split())
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            parser.error(f"--config {path}: YAML syntax error{where}: {problem}; fix the file (indentation, brackets, quotes).")


class DatganArgumentParser(LightningArgumentParser):
    """LightningArgumentParser whose errors are one ``error:`` line (:func:`~datgan_lightning.errors.one_line`)."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error or os.environ.get(DEBUG):
            super().error(message, ex)
        _fail(one_line(message, PROG))


class _ConsoleHandler(logging.StreamHandler):
    """Lightning's information to stdout, its warnings to stderr, so that stderr holds only what went wrong
    (the streams are looked up when written: a caller may have replaced them since)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.setStream(sys.stdout if record.levelno < logging.WARNING else sys.stderr)
        super().emit(record)


def route_lightning_info_to_stdout() -> None:
    for logger in map(logging.getLogger, ("lightning.pytorch", "lightning.fabric")):
        for handler in [h for h in logger.handlers if type(h) is logging.StreamHandler]:  # Lightning's console handler
            logger.removeHandler(handler)
            replacement = _ConsoleHandler()
            replacement.setLevel(handler.level)
            replacement.setFormatter(handler.formatter)
            logger.addHandler(replacement)


def _rejects_input(exception: BaseException) -> bool:  # a bad option; a divergence keeps its folder and checkpoints
    return user_error(exception) is not None and not isinstance(exception, DivergenceError)


def _model_options(args: list[str]) -> tuple[list[str], list[str], set[str]]:
    """Command-line tokens split into ``--model...`` options (with their values) and the rest, and the
    names of the model options given."""
    model, other, names, i = [], [], set(), 0
    while i < len(args):
        arg, takes_value = args[i], "=" not in args[i] and not args[i].endswith(".help")
        if arg == "--model" or arg.startswith(("--model.", "--model=")):
            model.extend(args[i : i + 1 + takes_value])
            names.add(arg.split("=", 1)[0].removeprefix("--model").removeprefix(".").removeprefix("init_args.").split(".")[0])
            i += 1 + takes_value
        else:
            other.append(arg)
            i += 1
    return model, other, names


def _name(value: Any) -> str:
    return value.class_path.rpartition(".")[2] if hasattr(value, "class_path") else repr(value)


class DatganCLI(LightningCLI):
    """LightningCLI whose bad input ends in one ``error:`` line, with threads, exact resume, run locks,
    a divergence guard and atomic checkpoints (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parser_class", DatganArgumentParser)
        kwargs.setdefault("parser_kwargs", {}).setdefault("prog", PROG)
        self.resumed_iterations: int | None = None
        self.run_folder = RunFolder(is_rejection=_rejects_input)
        super().__init__(*args, **kwargs)

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {**LightningCLI.subcommands(), "evaluate": {"model", "datamodule"}}

    def init_parser(self, **kwargs: Any) -> LightningArgumentParser:
        parser = super().init_parser(**kwargs)
        parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
        return parser

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--threads", type=Optional[PositiveInt], default=None,  # noqa: UP045 - a runtime type for jsonargparse
            help="Intra-op CPU threads (torch.set_num_threads), set before anything is built; null keeps PyTorch's default "
                 "(one per core). Small models are fastest with 1, which does not slow down beside a busy neighbour.",
        )

    # ------------------------------------------------------------ parsing
    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse; with ``--ckpt_path``, check the checkpoint and parse again with its model options between
        the config files' and the command line's ``--model...`` options."""
        given = list(sys.argv[1:] if args is None else args) if not isinstance(args, dict) else []
        _check_yaml_syntax(parser, given)
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        path = subcommand and self.config[subcommand].get("ckpt_path")
        if not path or str(path) in LIGHTNING_CKPT_KEYWORDS or str(path).startswith("registry"):
            return
        try:
            checkpoint = load_checkpoint(path)
        except CheckpointError as err:
            parser.error(f"--ckpt_path: {err}")
        if subcommand == "fit" and "pytorch-lightning_version" not in checkpoint:
            parser.error(f"--ckpt_path {path}: the file holds weights but is not a Lightning checkpoint (no 'pytorch-lightning_version'), "
                         "so training cannot resume from it; pass a .ckpt written by `datgan fit` (<run>/checkpoints/last.ckpt)")
        self.resumed_iterations = checkpoint.get("generator_iterations")
        hparams = {k: v for k, v in (checkpoint.get("hyper_parameters") or {}).items() if k != "_instantiator"}
        class_path, model = hparams.pop("_class_path", None), self.config[subcommand].get("model")
        configured = getattr(model, "class_path", None)
        if class_path and configured and class_path != configured and pydoc.locate(class_path) is not pydoc.locate(configured):
            parser.error(f"--ckpt_path {path}: the checkpoint holds a {class_path.rpartition('.')[2]} ({class_path}) but the config "
                         f"builds a {configured.rpartition('.')[2]} ({configured}); pass the config the checkpoint was trained with "
                         "(its run folder keeps it as config.yaml).")
        if not class_path or not hparams or not given:
            return  # a checkpoint not written through this CLI: its weights are loaded into the configured model
        model_args, other_args, explicit = _model_options(given)
        accepted = accepted_options(class_path)
        stored = {"class_path": class_path, "init_args": {k: v for k, v in hparams.items() if k in accepted}}
        before = dict(model.init_args) if class_path == configured else {}
        self.config = parser.parse_args([*other_args, f"--model={json.dumps(stored)}", *model_args])
        after = self.config[subcommand].model.init_args
        changed = [f"{k}={_name(after[k])} (config: {_name(v)})" for k, v in before.items() if k not in explicit and k in after and after[k] != v]
        if changed and rank_zero_only.rank == 0:
            print(f"Resuming {path}: the checkpoint's model options replace the config's: {', '.join(changed)}; "
                  "override them with --model.init_args.<option> on the command line.")

    def _parse_ckpt_path(self) -> None:
        """Lightning >= 2.5.5 (known up to 2.6) merges the checkpoint's hyperparameters over the command line
        here; :meth:`parse_arguments` has merged them already, with the command line winning."""

    def before_instantiate_classes(self) -> None:
        config = self.config.get(str(self.subcommand), self.config)
        if config.get("threads") is not None:
            torch.set_num_threads(config.threads)
        if self.subcommand == "evaluate" and not config.get("ckpt_path"):
            self.parser.error("evaluate: --ckpt_path is required; pass the checkpoint to score, e.g. --ckpt_path <run>/checkpoints/last.ckpt.")
        trainer = config.get("trainer")
        if trainer is None:
            return
        loggers = trainer.get("logger")
        loggers = loggers if isinstance(loggers, list) else [loggers]
        if any("TensorBoardLogger" in str(getattr(lg, "class_path", "")) for lg in loggers) and not any(map(importlib.util.find_spec, ("tensorboard", "tensorboardX"))):
            self.parser.error("--trainer.logger: TensorBoardLogger needs the tensorboard package, which is not installed; "
                              "pip install 'datgan-lightning[tensorboard]', or drop the logger.")
        if trainer.get("strategy", "auto") == "auto":  # several processes: gan_ddp, not Lightning's ddp
            trainer.strategy = default_strategy(trainer.get("accelerator", "auto"), trainer.get("devices", "auto"), trainer.get("num_nodes", 1))

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except ValueError as err:  # the constructors' checks, inside jsonargparse's report: one_line finds them
            self.parser.error(str(err))
        except MisconfigurationException as err:
            trainer = self.config.get(str(self.subcommand), self.config).get("trainer", {})
            self.parser.error(f"--trainer: {' '.join(str(err).split()).rstrip('!.')} (accelerator={trainer.get('accelerator')!r}, devices="
                              f"{trainer.get('devices')!r}); change these options, e.g. --trainer.accelerator cpu on a machine without a GPU")

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """The configured Trainer plus this package's defaults (the config's own instances win)."""
        config = self.config_init.get(str(self.subcommand), self.config_init).get("trainer", {})
        callbacks, plugins = _as_list(config.get("callbacks")), _as_list(config.get("plugins"))
        defaults = [cls() for cls in (ResumeState, DivergenceGuard) if not any(isinstance(c, cls) for c in callbacks)]
        atomic = [] if any(isinstance(p, CheckpointIO) for p in plugins) else [AtomicCheckpointIO()]
        self.run_folder = RunFolder(is_rejection=_rejects_input)
        return super().instantiate_trainer(callbacks=[*callbacks, *defaults, self.run_folder], plugins=[*plugins, *atomic], **kwargs)

    # ------------------------------------------------------------ running
    def before_fit(self) -> None:
        done, total = self.resumed_iterations, getattr(self.model, "max_iterations", None)
        if done is not None and total is not None and done >= total:
            print(f"Nothing to train: the checkpoint has finished its run ({done} of max_iterations={total} generator iterations); "
                  "give a larger --model.init_args.max_iterations to continue it.")
            raise SystemExit(0)
        datamodule = self.datamodule
        if datamodule is not None and type(datamodule).__module__.startswith("datgan_lightning.") and not getattr(datamodule, "download", False):
            datamodule.setup("fit")  # a missing, empty or too small dataset fails here, before any run folder exists
            if callable(getattr(datamodule, "check_trainable", None)):
                datamodule.check_trainable()
        self.run_folder.claim(self.trainer.log_dir if self.trainer.loggers else None)


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def create_cli(args: list[str] | None = None, run: bool = True) -> LightningCLI:
    """Build (and with ``run=True`` run) the CLI on ``args``; ``sys.argv`` when ``None``."""
    return DatganCLI(
        LightningModule, LightningDataModule, trainer_class=DatganTrainer, subclass_mode_model=True, subclass_mode_data=True, args=args, run=run,
        trainer_defaults={"max_epochs": -1},  # training length is the module's max_iterations (generator iterations), not epochs
        save_config_kwargs={"overwrite": True},
    )


# Lightning warnings that every run would print and that need no action: the image datamodules' empty
# validation loader during fit (metrics run on their own schedule), validation_step only for `datgan validate`,
# torch-internal deprecations, and main(args) called from a program with arguments of its own (pytest).
NOISE = (
    r"Total length of `(list|CombinedLoader|DataLoader)` across ranks is zero",
    r"You defined a `validation_step` but have no `val_dataloader`",
    r".*LeafSpec.* is deprecated",
    r"Using ModelCheckpoint with manual optimization",
    r"The dirpath has changed from",  # a resumed run writes to its own new version_N folder
    r"LightningCLI's args parameter is intended",
)


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``datgan`` command, e.g. ``main(["fit", "--config", "configs/toy2d/gan_dat_balanced.yaml"])``."""
    import warnings

    route_lightning_info_to_stdout()
    for pattern in NOISE:
        warnings.filterwarnings("ignore", message=pattern)
    try:
        create_cli(args)
    except Exception as err:
        described = None if os.environ.get(DEBUG) else user_error(err)
        if described is None:
            raise
        _fail(*described)


if __name__ == "__main__":
    main()
