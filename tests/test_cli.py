"""The datgan CLI: every config parses and instantiates; a toy config trains from Python via main([...])."""

import csv
import json
import re

import pytest
import yaml

from datgan_lightning.adversarial import DAT
from datgan_lightning.cli import create_cli, main
from datgan_lightning.modules import GAN, Toy2DGAN
from tests.conftest import CONFIGS

ALL_CONFIGS = sorted(CONFIGS.rglob("*.yaml"))
TOY_CONFIGS = sorted((CONFIGS / "toy2d").glob("*.yaml"))


def _fast_overrides(tmp_path, iterations=20):
    """A second config making the run tiny and keeping its outputs in tmp_path."""
    override = {
        "trainer": {
            "enable_progress_bar": False,
            "log_every_n_steps": 5,
            "default_root_dir": str(tmp_path),
            "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": str(tmp_path), "name": "run"}},
            "callbacks": [
                {
                    "class_path": "datgan_lightning.callbacks.MixtureMetrics",
                    "init_args": {"every_n_iterations": 10, "num_samples": 300, "plot_at": [10]},
                }
            ],
        },
        "model": {"init_args": {"max_iterations": iterations, "hidden": 16}},
    }
    path = tmp_path / "fast.yaml"
    path.write_text(yaml.safe_dump(override))
    return path


def test_there_are_toy_configs():
    names = {p.relative_to(CONFIGS).as_posix() for p in ALL_CONFIGS}
    assert {f"toy2d/{m}_{x}.yaml" for m in ("gan", "gan_dat") for x in ("balanced", "imbalanced")} <= names


@pytest.mark.parametrize("config", TOY_CONFIGS, ids=lambda p: p.relative_to(CONFIGS).as_posix())
def test_toy_config_instantiates(config, tmp_path):
    cli = create_cli(["--config", str(config), f"--trainer.default_root_dir={tmp_path}",
                      f"--trainer.logger.init_args.save_dir={tmp_path}"], run=False)
    assert isinstance(cli.model, GAN) and cli.trainer.max_epochs == -1
    assert (cli.model.perturbation is not None) == ("dat" in config.stem)


@pytest.mark.parametrize("config", TOY_CONFIGS, ids=lambda p: p.relative_to(CONFIGS).as_posix())
def test_toy_config_as_written_builds_its_callbacks(config, tmp_path):
    cli = create_cli(["--config", str(config), f"--trainer.default_root_dir={tmp_path}"], run=False)
    names = {type(c).__name__ for c in cli.trainer.callbacks}
    assert {"MixtureMetrics", "ModelCheckpoint"} <= names
    assert cli.model.max_iterations == 10000 and cli.datamodule.batch_size == 256


def test_fit_dat_imbalanced_writes_metrics_plots_and_checkpoint(tmp_path):
    config = CONFIGS / "toy2d" / "gan_dat_imbalanced.yaml"
    main(["fit", "--config", str(config), "--config", str(_fast_overrides(tmp_path))])
    run = tmp_path / "run" / "version_0"
    history = json.loads((run / "mixture_metrics.json").read_text())
    assert [h["generator_iterations"] for h in history] == [10, 20]
    assert all(0 <= h["modes"] <= 9 and 0 <= h["hq"] <= 1 and h["kl"] >= 0 for h in history)
    assert (run / "samples" / "iteration_000010.png").stat().st_size > 1000
    assert (run / "samples" / "iteration_000020.png").exists()
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert any(r.get("mixture/modes") for r in rows) and any(r.get("loss/d") for r in rows)
    (ckpt,) = (run / "checkpoints").glob("*.ckpt")
    model = Toy2DGAN.load_from_checkpoint(ckpt)
    assert model.generator_iterations == 20 and isinstance(model.perturbation, DAT)


def test_cli_overrides_reach_the_strategy(tmp_path):
    config = CONFIGS / "toy2d" / "gan_dat_balanced.yaml"
    cli = create_cli(
        ["--config", str(config), "--config", str(_fast_overrides(tmp_path)),
         "--model.init_args.perturbation.init_args.eps=0.6", "--model.init_args.perturbation.init_args.steps=2"],
        run=False,
    )
    assert cli.model.perturbation.eps == 0.6 and cli.model.perturbation.steps == 2


@pytest.mark.parametrize(
    "option, message",
    [
        ("--model.init_args.loss=bce", r"Unknown loss 'bce': choose one of"),
        ("--model.init_args.perturbation.init_args.eps=-1", r"DAT: eps=-1.0 is negative"),
        ("--data.init_args.mixture=ring", r"mixture='ring' is unknown"),
    ],
)
def test_bad_options_give_one_clear_sentence(option, message, tmp_path, capsys):
    config = CONFIGS / "toy2d" / "gan_dat_balanced.yaml"
    with pytest.raises(SystemExit) as exit_info:
        create_cli(["--config", str(config), "--config", str(_fast_overrides(tmp_path)), option], run=False)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert re.search(r"error: .*" + message, err) and "Traceback" not in err


@pytest.mark.skipif(not (CONFIGS.parents[1] / "shared" / "data" / "cifar10_subset.npz").is_file(), reason="needs ../shared/data/cifar10_subset.npz")
def test_sngan_cifar10_subset_config_fits_two_iterations(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(CONFIGS.parent)  # the config's data path is relative to the project root
    config = CONFIGS / "cpu" / "sngan_cifar10_subset_dat.yaml"
    main(["fit", "--config", str(config), f"--trainer.logger.init_args.save_dir={tmp_path}",
          "--trainer.logger.init_args.name=subset", "--trainer.enable_progress_bar=false", "--model.init_args.ngf=8", "--model.init_args.ndf=8",
          "--model.init_args.max_iterations=2", "--data.init_args.batch_size=4"])
    (run,) = (tmp_path / "subset").iterdir()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert f"Outputs of this run: {run}/" in capsys.readouterr().out  # image configs say where their outputs went


def test_threads_from_the_command_line_or_config_set_torch_threads(tmp_path):
    import torch

    before = torch.get_num_threads()
    try:
        config = CONFIGS / "toy2d" / "gan_dat_balanced.yaml"
        create_cli(["--config", str(config), "--config", str(_fast_overrides(tmp_path)), "--threads=1"], run=False)
        assert torch.get_num_threads() == 1
        overlay = tmp_path / "threads.yaml"
        overlay.write_text("threads: 2\n")
        cli = create_cli(["--config", str(config), "--config", str(overlay)], run=False)
        assert torch.get_num_threads() == 2 and cli.config.threads == 2
    finally:
        torch.set_num_threads(before)


def test_every_run_gets_resume_state_divergence_guard_and_atomic_checkpoints(tmp_path):
    from datgan_lightning.callbacks import DivergenceGuard, ResumeState
    from datgan_lightning.checkpoint_io import AtomicCheckpointIO

    config = CONFIGS / "toy2d" / "gan_dat_balanced.yaml"
    cli = create_cli(["--config", str(config), "--config", str(_fast_overrides(tmp_path))], run=False)
    kinds = [type(c) for c in cli.trainer.callbacks]
    assert kinds.count(ResumeState) == 1 and kinds.count(DivergenceGuard) == 1
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    own = create_cli(["--config", str(config), "--config", str(_fast_overrides(tmp_path)),
                      "--trainer.callbacks+=datgan_lightning.callbacks.DivergenceGuard", "--trainer.callbacks.on_nonfinite=skip"], run=False)
    (guard,) = [c for c in own.trainer.callbacks if isinstance(c, DivergenceGuard)]
    assert guard.on_nonfinite == "skip"
