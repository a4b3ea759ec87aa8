"""`--trainer.devices N` / `--trainer.num_nodes N` pick the gan_ddp strategy; one device keeps Lightning's."""

import pytest

from datgan_lightning.cli import create_cli
from datgan_lightning.distributed import GANDDPStrategy, default_strategy
from tests.conftest import CONFIGS


@pytest.mark.parametrize(
    "accelerator, devices, num_nodes, expected",
    [("cpu", "auto", 1, "auto"), ("cpu", 1, 1, "auto"), ("cpu", 2, 1, "gan_ddp"), ("cpu", "2", 1, "gan_ddp"),
     ("cpu", 1, 2, "gan_ddp"), ("gpu", "0,1", 1, "gan_ddp"), ("gpu", [3], 1, "auto"), ("cpu", "nonsense", 1, "auto")],
)
def test_default_strategy(accelerator, devices, num_nodes, expected):
    assert default_strategy(accelerator, devices, num_nodes) == expected


@pytest.mark.parametrize("devices, expected", [("2", GANDDPStrategy), ("1", None)])
def test_cli_devices_alone_selects_gan_ddp(tmp_path, devices, expected):
    cli = create_cli(["--config", str(CONFIGS / "toy2d" / "gan_dat_balanced.yaml"), f"--trainer.devices={devices}",
                      f"--trainer.logger.init_args.save_dir={tmp_path}"], run=False)
    assert isinstance(cli.trainer.strategy, GANDDPStrategy) == (expected is not None)
