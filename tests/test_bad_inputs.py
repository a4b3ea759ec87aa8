"""Every bad input to ``datgan`` ends with exactly one ``error:`` line on stderr naming the problem, a
non-zero exit code, no traceback, and nothing written (no run folder, no file in the working directory).

The table runs ``main([...])`` in this process (the command's own code path, without paying for a new
interpreter per case); two cases also run as real ``datgan`` subprocesses, where Lightning's warnings
and log lines would show on the real stderr.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from datgan_lightning.adversarial import DAT, FGSM, PGD
from datgan_lightning.checks import non_finite
from datgan_lightning.cli import main
from datgan_lightning.data import GaussianMixture2D
from datgan_lightning.errors import one_line
from datgan_lightning.modules import DCGAN
from tests.conftest import CONFIGS

TOY = str(CONFIGS / "toy2d" / "gan_dat_imbalanced.yaml")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Files the cases point at: images (good, corrupt, too few), YAML, .npz and checkpoint files."""
    root = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)

    def png(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(path)

    for i in range(6):
        png(root / "images" / f"{i}.png")
    for i in range(5):
        png(root / "with_corrupt" / f"{i}.png")
    (root / "with_corrupt" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / "empty").mkdir()
    (root / "only_corrupt").mkdir()
    (root / "only_corrupt" / "a.png").write_bytes(b"not a png")
    (root / "a_file.txt").write_text("x")
    (root / "syntax.yaml").write_text("model:\n  init_args: [unclosed\n")
    (root / "nan_eps.yaml").write_text("model:\n  init_args:\n    perturbation:\n      init_args:\n        eps: .nan\n")
    (root / "inf_lr.yaml").write_text("model:\n  init_args:\n    lr_g: .inf\n")
    np.savez(root / "empty.npz", train_x=np.zeros((0, 3, 32, 32), np.uint8))
    (root / "not_a.ckpt").write_text("hello")
    np.savez(root / "gray.npz", train_x=rng.integers(0, 256, (8, 1, 32, 32), dtype=np.uint8))
    color = DCGAN(ngf=4, ndf=4, channels=3)  # a 3-channel DCGAN's checkpoint, as `datgan fit` writes it
    hparams = {**color.hparams, "_class_path": "datgan_lightning.modules.DCGAN"}
    torch.save({"state_dict": color.state_dict(), "hyper_parameters": hparams, "pytorch-lightning_version": "2.6.0"}, root / "color.ckpt")
    torch.save({"state_dict": color.state_dict()}, root / "weights_only.ckpt")  # torch.save of weights, not a Lightning checkpoint
    out = root / "toy_run"
    main(["fit", "--config", TOY, "--model.init_args.max_iterations=2", "--model.init_args.hidden=8",
          f"--trainer.logger.init_args.save_dir={out}", "--trainer.enable_progress_bar=false",
          "--trainer.enable_model_summary=false",
          '--trainer.callbacks=[{"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", "init_args": {"every_n_train_steps": 4, "save_last": true}}]'])
    (ckpt,) = out.rglob("last.ckpt")
    (root / "truncated.ckpt").write_bytes(ckpt.read_bytes()[:3000])
    image_config = {
        "seed_everything": 0,
        "trainer": {"accelerator": "cpu", "max_epochs": -1, "enable_progress_bar": False, "enable_model_summary": False,
                    "enable_checkpointing": False, "log_every_n_steps": 1,
                    "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": "OUT", "name": "img"}}},
        "model": {"class_path": "datgan_lightning.modules.DCGAN", "init_args": {"ngf": 4, "ndf": 4, "max_iterations": 5}},
        "data": {"class_path": "datgan_lightning.data.ImageFolder", "init_args": {"root": str(root / "images"), "image_size": 32, "batch_size": 2}},
    }
    (root / "image.yaml").write_text(yaml.safe_dump(image_config))
    image_config["model"]["init_args"]["channels"] = 1  # the MNIST config's single channel; the checkpoint's 3 replace it
    image_config["data"] = {"class_path": "datgan_lightning.data.NpzImages", "init_args": {"path": str(root / "gray.npz"), "batch_size": 2}}
    (root / "gray.yaml").write_text(yaml.safe_dump(image_config))
    return {"root": root, "ckpt": str(ckpt), "image": str(root / "image.yaml")}


def toy(*args):
    return lambda f, out: ["fit", "--config", TOY, f"--trainer.logger.init_args.save_dir={out}", *[a.format(**f) for a in args]]


def image(*args):
    return lambda f, out: ["fit", "--config", f["image"], f"--trainer.logger.init_args.save_dir={out}", *[a.format(**f) for a in args]]


def raw(*args):
    return lambda f, out: [a.format(**f, out=out) for a in args]


CASES = [
    # option values: types, non-finite numbers, ranges
    ("eps not a number", toy("--model.init_args.perturbation.init_args.eps=abc"), r"--model\.init_args\.perturbation\.init_args\.eps: expected a number, got 'abc'"),
    ("eps nan", toy("--model.init_args.perturbation.init_args.eps=nan"), r"eps=nan is not a finite number"),
    ("eps .nan in a config file", toy("--config={root}/nan_eps.yaml"), r"eps=nan is not a finite number"),
    ("lr inf", toy("--model.init_args.lr_g=inf"), r"--model\.init_args\.lr_g: lr_g=inf is not a finite number"),
    ("lr .inf in a config file", toy("--config={root}/inf_lr.yaml"), r"lr_g=inf is not a finite number"),
    ("lr <= 0", toy("--model.init_args.lr_d=-1"), r"lr_d=-1.0 is invalid; use a positive learning rate"),
    ("eps < 0", toy("--model.init_args.perturbation.init_args.eps=-1"), r"DAT: eps=-1.0 is negative"),
    ("steps 0", toy("--model.init_args.perturbation.init_args.steps=0"), r"DAT: steps=0 is invalid"),
    ("n_dis 0", toy("--model.init_args.n_dis=0"), r"n_dis=0 is invalid"),
    ("n_dis not an integer", toy("--model.init_args.n_dis=1.5"), r"--model\.init_args\.n_dis: expected an integer, got '1.5'"),
    ("max_iterations 0", toy("--model.init_args.max_iterations=0"), r"max_iterations=0 is invalid"),
    ("ema_decay 1.5", toy("--model.init_args.ema_decay=1.5"), r"ema_decay=1.5 is invalid"),
    ("batch 0", toy("--data.init_args.batch_size=0"), r"batch_size=0 is invalid"),
    ("std <= 0", toy("--data.init_args.std=0"), r"std=0.0 is invalid"),
    ("unknown mixture", toy("--data.init_args.mixture=ring"), r"mixture='ring' is unknown"),
    ("unknown loss", toy("--model.init_args.loss=bce"), r"Unknown loss 'bce': choose one of"),
    ("threads 0", toy("--threads=0"), r"--threads: threads=0 is invalid"),
    ("trainer option of a wrong type", toy("--trainer.max_epochs=x"), r"--trainer\.max_epochs: expected an integer, got 'x'"),
    # names: keys, classes, subcommands
    ("unknown key", toy("--model.init_args.lr_gg=1"), r"--model\.init_args\.lr_gg: Toy2DGAN has no option 'lr_gg' \(did you mean 'lr_g'\?\)"),
    ("unknown option", toy("--nope=1"), r"unknown option\(s\): --nope=1"),
    ("unknown model", toy("--model=datgan_lightning.modules.Nope"), r"--model: unknown class 'Nope'; choose one of .*Toy2DGAN"),
    ("unknown datamodule", toy("--data=datgan_lightning.data.Nope"), r"--data: unknown class 'Nope'; choose one of .*GaussianMixture2D"),
    ("unknown perturbation", toy("--model.init_args.perturbation=datgan_lightning.adversarial.Nope"), r"--model\.init_args\.perturbation: unknown class 'Nope'; choose one of DAT"),
    ("unknown subcommand", raw("fitt", "--config", TOY), r"invalid choice: 'fitt'"),
    # files: configs, checkpoints, output folder
    ("YAML syntax error", toy("--config={root}/syntax.yaml"), r"--config .*syntax\.yaml: YAML syntax error at line 3"),
    ("missing config", raw("fit", "--config", "{root}/absent.yaml"), r"--config: File does not exist: '.*absent\.yaml'"),
    ("missing checkpoint", toy("--ckpt_path={root}/absent.ckpt"), r"--ckpt_path: checkpoint '.*absent\.ckpt' does not exist"),
    ("truncated checkpoint", toy("--ckpt_path={root}/truncated.ckpt"), r"checkpoint '.*truncated\.ckpt' cannot be read .*truncated, corrupt"),
    ("not a checkpoint", toy("--ckpt_path={root}/not_a.ckpt"), r"checkpoint '.*not_a\.ckpt' cannot be read"),
    ("checkpoint is a folder", toy("--ckpt_path={root}"), r"is not a file"),
    ("checkpoint of another model", image("--ckpt_path={ckpt}"), r"holds a Toy2DGAN .* but the config builds a DCGAN"),
    ("resume with another net size", toy("--ckpt_path={ckpt}", "--model.init_args.hidden=32", "--model.init_args.max_iterations=4"), r"weights do not fit the model .*cannot change on resume"),
    ("evaluate without checkpoint", raw("evaluate", "--config", "{image}", "--trainer.callbacks+=datgan_lightning.callbacks.RobustnessMetrics",
                                        "--trainer.logger.init_args.save_dir={out}"), r"evaluate: --ckpt_path is required"),
    ("output folder under a file", toy("--trainer.logger.init_args.save_dir={root}/a_file.txt/runs"), r"a_file\.txt' is not a directory"),
    # data
    ("missing image root", image("--data.init_args.root={root}/absent"), r"ImageFolder: no image folder found at root='.*absent'"),
    ("image root is a file", image("--data.init_args.root={root}/a_file.txt"), r"ImageFolder: no folder at '.*a_file\.txt'"),
    ("empty image folder", image("--data.init_args.root={root}/empty"), r"no image files .* under '.*empty'"),
    ("fewer images than a batch", image("--data.init_args.batch_size=64"), r"root='.*images' has only 6 samples, fewer than one batch \(batch_size=64"),
    ("only a corrupt image", image("--data.init_args.root={root}/only_corrupt"), r"has only 1 sample, fewer than one batch \(batch_size=2"),
    ("corrupt image among good ones", image("--data.init_args.root={root}/with_corrupt"), r"cannot read the image file '.*broken\.png'"),
    ("image size not fitting the model", image("--data.init_args.image_size=16"), r"DCGAN generates samples of shape \(3, 32, 32\) but ImageFolder yields \(3, 16, 16\)"),
    ("channels not fitting the model", image("--data.init_args.channels=1"), r"yields \(1, 32, 32\)"),
    ("empty .npz", image("--data=datgan_lightning.data.NpzImages", "--data.init_args.path={root}/empty.npz"), r"NpzImages: the training set at path='.*empty\.npz' has no samples"),
    ("evaluate a checkpoint whose nets do not fit the data", raw("evaluate", "--config", "{root}/gray.yaml", "--ckpt_path={root}/color.ckpt",
        "--trainer.callbacks+=datgan_lightning.callbacks.RobustnessMetrics", "--trainer.logger.init_args.save_dir={out}"),
        r"evaluate: the checkpoint's DCGAN generates samples of shape \(3, 32, 32\) but NpzImages yields \(1, 32, 32\)"),
    ("fit from weights that are not a Lightning checkpoint", image("--ckpt_path={root}/weights_only.ckpt"),
        r"--ckpt_path .*weights_only\.ckpt: the file holds weights but is not a Lightning checkpoint"),
    *[("an accelerator the machine does not have", image("--trainer.accelerator=gpu"),
       r"--trainer: No supported gpu backend found \(accelerator='gpu'.*--trainer\.accelerator cpu")] * (not torch.cuda.is_available()),
    ("not an .npz", image("--data=datgan_lightning.data.NpzImages", "--data.init_args.path={root}/not_a.ckpt"), r"NpzImages: cannot read '.*not_a\.ckpt' as an \.npz file"),
]


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize("name, make_args, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_writes_nothing(name, make_args, message, inputs, tmp_path, monkeypatch, capsys):
    _assert_one_line_and_nothing_written(make_args, message, inputs, tmp_path, monkeypatch, capsys)


def _assert_one_line_and_nothing_written(make_args, message, inputs, tmp_path, monkeypatch, capsys):
    workdir, out = tmp_path / "cwd", tmp_path / "out"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # `evaluate` used to write checkpoint.metrics.json here
    before = _files(inputs["root"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(make_args({**inputs, "root": str(inputs["root"])}, out))
    assert exit_info.value.code not in (0, None)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    assert re.search(message, lines[0]), lines[0]
    assert _files(out) == [] and _files(workdir) == [], "a rejected input left files behind"
    assert _files(inputs["root"]) == before


def test_there_are_at_least_30_bad_inputs():
    assert len(CASES) >= 30


def test_a_tensorboard_logger_without_tensorboard_names_the_extra(inputs, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as on an install without the [tensorboard] extra
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    make_args = raw("fit", "--config", "{image}", "--trainer.logger.init_args.save_dir={out}",
                    "--trainer.logger+=lightning.pytorch.loggers.TensorBoardLogger", "--trainer.logger.save_dir={out}")  # the README's recipe
    message = r"--trainer\.logger: TensorBoardLogger needs the tensorboard package.*pip install 'datgan-lightning\[tensorboard\]'"
    _assert_one_line_and_nothing_written(make_args, message, inputs, tmp_path, monkeypatch, capsys)


def test_one_line_even_when_the_calling_program_has_its_own_arguments(inputs, tmp_path, monkeypatch, capsys):
    """LightningCLI warns when main(args) runs inside a program with command-line arguments (pytest's)."""
    import warnings

    monkeypatch.setattr(sys, "argv", ["pytest", "-k", "something", "tests/"])
    def show(message, category, filename, lineno, file=None, line=None):  # as without pytest's warning capture
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        make_args = toy("--model.init_args.n_dis=0")
        _assert_one_line_and_nothing_written(make_args, r"n_dis=0 is invalid", inputs, tmp_path, monkeypatch, capsys)


def test_version(capsys):
    from datgan_lightning import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"datgan {__version__}"


def test_datgan_debug_shows_the_full_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATGAN_DEBUG", "1")
    with pytest.raises(SystemExit) as exit_info:
        main(toy("--model.init_args.perturbation.init_args.eps=abc")({}, tmp_path))
    assert exit_info.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) > 5  # jsonargparse's own usage and message


def test_the_command_prints_one_line_on_the_real_stderr(tmp_path):
    args, message = ["--model.init_args.perturbation.init_args.eps", "abc"], "expected a number, got 'abc'"
    done = subprocess.run(
        [sys.executable, "-m", "datgan_lightning.cli", "fit", "--config", TOY, f"--trainer.logger.init_args.save_dir={tmp_path}", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and message in done.stderr, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_help_stays_long(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--help"])
    assert exit_info.value.code == 0 and len(capsys.readouterr().out.splitlines()) > 50


@pytest.mark.parametrize("make, name, value", [
    (lambda v: DAT(eps=v), "eps", math.nan),
    (lambda v: DAT(eps=v), "eps", math.inf),
    (lambda v: FGSM(eps=v), "eps", math.nan),
    (lambda v: PGD(eps=v), "eps", -math.inf),
    (lambda v: DAT(data_range=(-1.0, v)), "data_range_high", math.inf),
    (lambda v: GaussianMixture2D(std=v), "std", math.nan),
])
def test_python_api_rejects_nan_and_inf_with_the_commands_sentence(make, name, value):
    with pytest.raises(ValueError) as info:
        make(value)
    assert non_finite(name, value) in str(info.value)
    assert one_line(f'Parser key "{name}":\n  Expected a <class \'float\'>. Got value: {value}').endswith(non_finite(name, value))


def test_jsonargparse_messages_condense_to_one_line():
    message = (
        'Parser key "model":\n  Does not validate against any of the Union subtypes\n  Subtypes: [GAN, NoneType]\n  Errors:\n'
        "    - Problem with given class_path 'datgan_lightning.modules.Toy2DGAN':\n        Parser key \"perturbation\":\n"
        "          Errors:\n            - Problem with given class_path 'datgan_lightning.adversarial.DAT':\n"
        '                Parser key "eps":\n                  Expected a <class \'float\'>. Got value: abc\n'
        "            - Expected a <class 'NoneType'>\n    - Expected a <class 'NoneType'>\n  Given value type: <class 'str'>"
    )
    assert one_line(message) == "--model.init_args.perturbation.init_args.eps: expected a number, got 'abc'."
    assert one_line("n_dis=0 is invalid; use an integer >= 1.") == "n_dis=0 is invalid; use an integer >= 1."
