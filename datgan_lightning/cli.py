"""The ``datgan`` command: LightningCLI over any GAN module and any datamodule.

    datgan fit --config configs/toy2d/gan_dat_imbalanced.yaml
    datgan fit --config configs/toy2d/gan_dat_imbalanced.yaml --model.perturbation.init_args.eps 0.6
    datgan evaluate --config configs/cpu/dcgan_mnist_dat.yaml --ckpt_path runs/.../last.ckpt

``evaluate`` loads a checkpoint and prints (and writes as JSON) the numbers of the metric callbacks
in the config (``ImageQualityMetrics``, ``RobustnessMetrics``).
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import LightningCLI

from datgan_lightning.errors import ConfigurationError
from datgan_lightning.evaluation import evaluate_checkpoint
from datgan_lightning.modules.gan import GAN


class DatganTrainer(Trainer):
    """Lightning's Trainer plus the ``evaluate`` verb."""

    def evaluate(
        self, model: LightningModule, datamodule: LightningDataModule | None = None, ckpt_path: str | None = None, out: str | None = None
    ) -> dict[str, Any]:
        """Score ``ckpt_path`` with the configured metric callbacks; print and write JSON (``out``,
        default ``<checkpoint>.metrics.json``)."""
        evaluators = [c for c in self.callbacks if callable(getattr(c, "evaluate", None))]
        return evaluate_checkpoint(model, datamodule, evaluators, ckpt_path, self.strategy.root_device, out)


class DatganCLI(LightningCLI):
    """LightningCLI whose bad option values end in one ``error:`` line, not a traceback."""

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {**LightningCLI.subcommands(), "evaluate": {"model", "datamodule"}}

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except ValueError as err:  # our constructors' checks: one sentence naming option, value and fix
            while isinstance(err.__cause__ or err.__context__, ValueError):
                err = err.__cause__ or err.__context__  # jsonargparse wraps the constructor's error
            self.parser.error(str(err))

    def _run_subcommand(self, subcommand: str) -> None:
        try:
            super()._run_subcommand(subcommand)
        except ConfigurationError as err:  # data missing or not fitting the model, found at setup
            self.parser.error(str(err))


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


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``datgan`` command, e.g. ``main(["fit", "--config", "configs/toy2d/gan_dat_balanced.yaml"])``."""
    create_cli(args)


if __name__ == "__main__":
    main()
