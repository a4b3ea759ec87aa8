"""The ``datgan`` command: LightningCLI over any GAN module and any datamodule.

    datgan fit --config configs/toy2d/gan_dat_imbalanced.yaml
    datgan fit --config configs/toy2d/gan_dat_imbalanced.yaml --model.perturbation.init_args.eps 0.6
"""

from __future__ import annotations

from lightning.pytorch import LightningDataModule
from lightning.pytorch.cli import LightningCLI

from datgan_lightning.errors import ConfigurationError
from datgan_lightning.modules.gan import GAN


class DatganCLI(LightningCLI):
    """LightningCLI whose bad option values end in one ``error:`` line, not a traceback."""

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
