"""Failures that used to end a run after training (issue 25.1) are found before the first step, in one
sentence: InceptionV3 weights that are not cached and cannot be downloaded, a metric's feature network
that cannot be built, an extra ``ModelCheckpoint(dirpath=...)`` that cannot be written. Each case runs
``datgan fit`` in this process (as tests/test_bad_inputs.py does): exit code 2, one ``error:`` line, no
traceback, no run folder, and no training step."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch_fidelity.feature_extractor_inceptionv3 as fidelity_inception

from datgan_lightning.cli import main
from datgan_lightning.errors import ConfigurationError
from datgan_lightning.metrics import InceptionV3Features
from datgan_lightning.metrics.extractors import FeatureExtractor, _inception_network
from tests.conftest import CONFIGS

TOY = str(CONFIGS / "toy2d" / "gan_dat_imbalanced.yaml")
UNREACHABLE = "http://127.0.0.1:9/weights-inception-2015-12-05-6726825d.pth"  # the discard port: connection refused


@pytest.fixture
def no_inception_download(tmp_path, monkeypatch):
    """An empty torch hub cache and an InceptionV3 URL that refuses connections: this machine offline."""
    old_hub = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    monkeypatch.setattr(fidelity_inception, "URL_INCEPTION_V3", UNREACHABLE)
    _inception_network.cache_clear()
    yield
    _inception_network.cache_clear()
    torch.hub.set_dir(old_hub)


class BrokenExtractor(FeatureExtractor):
    """An extractor whose network cannot be built (importable by class path from the CLI)."""

    name, features_dim, logits_dim = "broken", 2, 2

    def build(self):
        raise FileNotFoundError("no such file: net.pt")


def test_unavailable_inception_weights_are_one_sentence_saying_how_to_provide_them(no_inception_download):
    with pytest.raises(ConfigurationError) as caught:
        InceptionV3Features().build()
    message = str(caught.value)
    assert "\n" not in message
    assert re.match(r"InceptionV3Features: the InceptionV3 weights are not cached and cannot be downloaded \(.*refused.*\); "
                    r"download https://github\.com/toshas/torch-fidelity/releases/download/v0\.2\.0/weights-inception-2015-12-05-6726825d\.pth "
                    r"on a machine with internet and set weights_path to that file \(or copy it to .*hub/checkpoints/weights-inception-2015-12-05-6726825d\.pth\), "
                    r"or use DomainClassifierFeatures instead \(offline; `datgan-train-classifier`\)\.$", message), message


def test_a_corrupt_weights_file_is_named(tmp_path):
    bad = tmp_path / "weights.pth"
    bad.write_bytes(b"not a checkpoint")
    _inception_network.cache_clear()
    with pytest.raises(ConfigurationError, match=r"^InceptionV3Features: weights_path='.*weights\.pth' cannot be loaded \(.*\); download .* again to that path"):
        InceptionV3Features(weights_path=str(bad)).build()
    _inception_network.cache_clear()


def _image_quality(extractor):
    callback = {"class_path": "datgan_lightning.callbacks.ImageQualityMetrics",
                "init_args": {"extractor": extractor, "every_n_iterations": 1, "splits": ["train"], "num_real": {"train": 4},
                              "num_fake": {"train": 4}, "batch_size": 4, "cache_dir": None}}
    return f"--trainer.callbacks+={json.dumps(callback)}"


@pytest.fixture
def tiny_images(tmp_path):
    path = tmp_path / "images.npz"
    np.savez(path, train_x=np.random.default_rng(0).integers(0, 256, (8, 3, 32, 32), dtype=np.uint8))
    return ["fit", "--model=datgan_lightning.modules.DCGAN", "--model.init_args.ngf=2", "--model.init_args.ndf=2",
            "--model.init_args.max_iterations=2", "--data=datgan_lightning.data.NpzImages", f"--data.init_args.path={path}",
            "--data.init_args.batch_size=4", "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
            "--trainer.logger=lightning.pytorch.loggers.CSVLogger", "--trainer.max_epochs=-1"]


def _fails_before_training(args, out, capsys, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("training started before the failure was found")

    monkeypatch.setattr("datgan_lightning.modules.gan.GAN.training_step", no_training)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([*args, f"--trainer.logger.init_args.save_dir={out}"])
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if not line.startswith("Downloading: ")]  # torch.hub's attempt
    assert exit_info.value.code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert not out.exists() or list(out.rglob("*")) == [], "the rejected run left files behind"
    return lines[0]


def test_fit_with_unavailable_inception_weights_stops_before_the_first_step(tiny_images, tmp_path, no_inception_download, capsys, monkeypatch):
    line = _fails_before_training([*tiny_images, _image_quality({"class_path": "datgan_lightning.metrics.InceptionV3Features"})],
                                  tmp_path / "out", capsys, monkeypatch)
    assert "the InceptionV3 weights are not cached and cannot be downloaded" in line and "weights_path" in line, line


def test_fit_with_an_extractor_that_cannot_be_built_stops_before_the_first_step(tiny_images, tmp_path, capsys, monkeypatch):
    line = _fails_before_training([*tiny_images, _image_quality({"class_path": "tests.test_before_training.BrokenExtractor"})],
                                  tmp_path / "out", capsys, monkeypatch)
    assert re.search(r"error: ImageMetrics: the feature network of metrics\['fid'\] \(BrokenExtractor\) cannot be built "
                     r"\(FileNotFoundError: no such file: net\.pt\); fix its options or use another extractor\.$", line), line


# ---------------------------------------------------------------- checkpoint folders (ResumeState.setup)
def _toy_with_checkpoint_in(dirpath):
    callback = {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", "init_args": {"dirpath": str(dirpath), "save_last": True}}
    return ["fit", "--config", TOY, "--model.init_args.hidden=8", "--model.init_args.max_iterations=2",
            "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", f"--trainer.callbacks+={json.dumps(callback)}"]


def test_a_checkpoint_dirpath_under_a_file_is_refused_before_the_first_step(tmp_path, capsys, monkeypatch):
    (tmp_path / "a_file").write_text("x")
    line = _fails_before_training(_toy_with_checkpoint_in(tmp_path / "a_file" / "ckpts"), tmp_path / "out", capsys, monkeypatch)
    assert re.search(r"error: ModelCheckpoint: dirpath='.*a_file/ckpts' cannot be written: '.*a_file' is not a directory; "
                     r"choose a writable dirpath, or drop it to save under the run folder\.$", line), line


def test_a_read_only_checkpoint_dirpath_is_refused_before_the_first_step(tmp_path, capsys, monkeypatch):
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    real_access = os.access
    # a read-only filesystem (EROFS) as os.access reports it; chmod cannot make one here, the tests may run as root
    monkeypatch.setattr("datgan_lightning.callbacks.interrupt.os.access", lambda p, mode: False if Path(p) == read_only else real_access(p, mode))
    line = _fails_before_training(_toy_with_checkpoint_in(read_only / "ckpts"), tmp_path / "out", capsys, monkeypatch)
    assert re.search(r"error: ModelCheckpoint: dirpath='.*read_only/ckpts' cannot be written: '.*read_only' is not writable "
                     r"\(read-only filesystem or no permission\)", line), line
    assert list(read_only.iterdir()) == []


# ---------------------------------------------------------------- .npz encodings (issue 25.7) through the command
@pytest.mark.parametrize(
    ("train_x", "message"),
    [
        (np.zeros((8, 32, 32, 3), np.uint8), r"error: NpzImages: train_x has shape \(8, 32, 32, 3\), which looks channels-last \(N, H, W, C\); NpzImages expects \(N, C, H, W\)"),
        (np.full((8, 3, 32, 32), 255.0, np.float32), r"error: NpzImages: train_x is float32 with values in \[255, 255\]; use uint8 in \[0, 255\] or floats in \[0, 1\] or \[-1, 1\]"),
    ],
    ids=["channels-last", "float-0-255"],
)
def test_npz_of_another_layout_or_range_is_one_line_before_training(tiny_images, train_x, message, tmp_path, capsys, monkeypatch):
    path = tmp_path / "bad.npz"
    np.savez(path, train_x=train_x)
    line = _fails_before_training([*tiny_images, f"--data.init_args.path={path}"], tmp_path / "out", capsys, monkeypatch)
    assert re.search(message, line), line
