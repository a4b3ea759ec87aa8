"""DivergenceGuard, which ``datgan`` adds to every run: a NaN/inf loss or weight stops training with one
line naming the generator iteration, the loss and the last good checkpoint, exit code 1, and no
checkpoint of the broken state; ``on_nonfinite: skip`` drops bad steps instead and counts them."""

from __future__ import annotations

import csv
import json
import re

import pytest
import torch
import yaml

from datgan_lightning.callbacks import DivergenceGuard
from datgan_lightning.cli import main
from tests.conftest import CONFIGS

TOY = str(CONFIGS / "toy2d" / "gan_dat_imbalanced.yaml")
CHECKPOINT_EVERY_2 = {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                      "init_args": {"every_n_train_steps": 4, "save_last": True, "save_top_k": -1}}


def _run(tmp_path, model=None, callbacks=(), *extra):
    overlay = {
        "trainer": {"callbacks": [CHECKPOINT_EVERY_2, *callbacks], "log_every_n_steps": 1, "enable_progress_bar": False,
                    "enable_model_summary": False, "logger": {"init_args": {"save_dir": str(tmp_path), "name": "run"}}},
        "model": model or {"init_args": {"hidden": 16, "max_iterations": 10}},
    }
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump(overlay))
    main(["fit", "--config", TOY, "--config", str(path), *extra])


NAN_AT_5 = {"class_path": "tests.callbacks.helpers.NaNLossToy2DGAN", "init_args": {"nan_at": 5, "hidden": 16, "max_iterations": 10,
            "perturbation": {"class_path": "datgan_lightning.adversarial.DAT", "init_args": {"eps": 32.0, "data_range": None}}}}


def _checkpoints(tmp_path):
    return {p.name: torch.load(p, weights_only=True) for p in tmp_path.rglob("*.ckpt")}


def _all_finite(checkpoint):
    return all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values() if t.is_floating_point())


def test_an_injected_nan_stops_with_one_line_and_no_nan_checkpoint(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _run(tmp_path, NAN_AT_5)
    assert exit_info.value.code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert re.fullmatch(
        r"error: training diverged in generator iteration 5 \(4 completed\): loss/d = nan; nothing of this state was saved; "
        r"the last good checkpoint is .*last\.ckpt; resume from it .*", line), line
    checkpoints = _checkpoints(tmp_path)
    assert checkpoints and all(_all_finite(c) for c in checkpoints.values())
    assert checkpoints["last.ckpt"]["generator_iterations"] == 4


def test_skip_mode_drops_the_bad_step_counts_it_and_trains_on(tmp_path, capsys):
    skip = {"class_path": "datgan_lightning.callbacks.DivergenceGuard", "init_args": {"on_nonfinite": "skip"}}
    _run(tmp_path, NAN_AT_5, [skip])
    checkpoints = _checkpoints(tmp_path)
    assert checkpoints["last.ckpt"]["generator_iterations"] == 10 and all(_all_finite(c) for c in checkpoints.values())
    (guard,) = [v for k, v in checkpoints["last.ckpt"]["callbacks"].items() if k.startswith("DivergenceGuard")]
    assert guard == {"skipped": 1}
    (metrics,) = tmp_path.rglob("metrics.csv")
    logged = [float(r["divergence/skipped_steps"]) for r in csv.DictReader(metrics.open()) if r.get("divergence/skipped_steps")]
    assert logged and logged[-1] == 1.0 and logged[0] == 0.0


def test_a_huge_learning_rate_on_the_toy_config_is_stopped(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _run(tmp_path, None, (), "--model.init_args.lr_d=1e6", "--model.init_args.lr_g=1e6")
    assert exit_info.value.code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: training diverged in generator iteration ") and "not finite" in line, line
    assert all(_all_finite(c) for c in _checkpoints(tmp_path).values())


def test_guard_rejects_bad_options():
    with pytest.raises(ValueError, match="on_nonfinite='maybe' is invalid"):
        DivergenceGuard(on_nonfinite="maybe")
    with pytest.raises(ValueError, match="max_consecutive_skips=0 is invalid"):
        DivergenceGuard(max_consecutive_skips=0)
    assert json.dumps(DivergenceGuard().state_dict()) == '{"skipped": 0}'
