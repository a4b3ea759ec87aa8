"""FID/KID/IS, robustness and sample-grid callbacks inside a tiny Trainer.fit, and ``datgan evaluate``."""

import csv
import json

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch.utils.data import TensorDataset

from datgan_lightning.callbacks import ImageQualityMetrics, RobustnessMetrics, SampleGrid
from datgan_lightning.cli import main
from datgan_lightning.data import NpzImages
from datgan_lightning.metrics import DomainClassifierFeatures
from datgan_lightning.metrics.domain_classifier import save_domain_classifier, train_domain_classifier
from datgan_lightning.modules import DCGAN
from tests.conftest import CONFIGS, fast_trainer


def _mnist_like(tmp_path, n=16):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 1, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n)
    path = tmp_path / "images.npz"
    np.savez(path, train_x=images, train_y=labels, test_x=images[::-1], test_y=labels[::-1])
    return path


def _classifier(tmp_path):
    data = TensorDataset(torch.rand(32, 1, 32, 32) * 2 - 1, torch.arange(32) % 10)
    return save_domain_classifier(train_domain_classifier(data, num_classes=10, channels=1, epochs=1, batch_size=16), tmp_path / "clf.pt")


def test_callbacks_log_to_csv_and_tensorboard_and_write_files(tmp_path):
    extractor = DomainClassifierFeatures(str(_classifier(tmp_path)))
    quality = ImageQualityMetrics(extractor=extractor, every_n_iterations=1, num_real={"train": 16, "test": 16}, batch_size=8,
                                  kid_subset_size=8, cache_dir=str(tmp_path / "cache"))
    robustness = RobustnessMetrics(every_n_iterations=2, num_samples=8, max_iterations=5)
    grid = SampleGrid(every_n_iterations=1, num_samples=4, nrow=2)
    csv_logger = CSVLogger(tmp_path, name="csv")
    tensorboard = TensorBoardLogger(tmp_path, name="tb")
    trainer = fast_trainer(tmp_path, logger=[csv_logger, tensorboard], log_every_n_steps=1,
                           callbacks=[quality, robustness, grid, ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)],
                           enable_checkpointing=True)
    model = DCGAN(channels=1, ngf=4, ndf=4, latent_dim=8, max_iterations=2, ema_decay=0.9)
    trainer.fit(model, NpzImages(str(_mnist_like(tmp_path)), batch_size=4))

    with open(csv_logger.log_dir + "/metrics.csv") as f:
        rows = list(csv.DictReader(f))
    name = extractor.name
    for column in (f"fid/train/{name}", f"fid/test/{name}", f"kid/test/{name}", f"is/{name}", "robustness/flip_share_fake",
                   "robustness/accuracy_real_fgsm", "robustness/iterations_to_flip_real"):
        values = [float(r[column]) for r in rows if r.get(column)]
        assert values and all(np.isfinite(values)), column
    fids = [float(r[f"fid/test/{name}"]) for r in rows if r.get(f"fid/test/{name}")]
    assert len(fids) == 2 and fids[0] > 0
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    log_dir = trainer.log_dir
    assert [p.name for p in sorted((tmp_path / log_dir).glob("samples/*.png"))] == ["iteration_000001.png", "iteration_000002.png"]
    history = json.loads((tmp_path / log_dir / "image_quality.json").read_text())
    assert [h["generator_iterations"] for h in history] == [1, 2]
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 4  # the real statistics of FID and KID, train and test
    checkpoint = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)
    assert not any("classifier" in k or "inception" in k.lower() for k in checkpoint["state_dict"])


def test_validate_and_test_log_the_callbacks_numbers_and_fit_runs_no_validation_pass(tmp_path):
    extractor = DomainClassifierFeatures(str(_classifier(tmp_path)))
    quality = ImageQualityMetrics(extractor=extractor, every_n_iterations=100, num_real={"train": 16, "test": 16}, batch_size=8,
                                  kid_subset_size=8, cache_dir=None)
    robustness = RobustnessMetrics(every_n_iterations=100, num_samples=8, max_iterations=5)
    trainer = fast_trainer(tmp_path, callbacks=[quality, robustness], num_sanity_val_steps=2)
    model = DCGAN(channels=1, ngf=4, ndf=4, latent_dim=8, max_iterations=2)
    data = NpzImages(str(_mnist_like(tmp_path)), batch_size=4)
    trainer.fit(model, data)
    assert sum(trainer.num_val_batches) == 0  # no per-epoch validation pass during fit
    assert [h["stage"] for h in quality.history] == ["fit"]  # only after the last iteration

    (validated,) = trainer.validate(model, data, verbose=False)
    (tested,) = trainer.test(model, data, verbose=False)
    expected = {**quality.evaluate(model, data), **robustness.evaluate(model, data)}
    for results in (validated, tested):
        assert set(results) == set(expected)
        for name, value in expected.items():
            assert results[name] == pytest.approx(value, rel=1e-5, abs=1e-6), name
    assert [h["stage"] for h in quality.history] == ["fit", "validate", "test"]
    assert [h["stage"] for h in json.loads((tmp_path / "robustness.json").read_text())] == ["fit", "validate", "test"]


def test_fit_from_the_cpu_config_shows_all_metrics_in_csv_and_tensorboard(tmp_path):
    """The README's recipe: the CPU config (robustness, sample grid) plus FID/KID/IS with a domain classifier, plus TensorBoard."""
    classifier = _classifier(tmp_path)
    main(["fit", "--config", str(CONFIGS / "cpu" / "dcgan_mnist_dat.yaml"), f"--trainer.default_root_dir={tmp_path}",
          f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.logger.init_args.name=csv",
          "--trainer.logger+=lightning.pytorch.loggers.TensorBoardLogger", f"--trainer.logger.save_dir={tmp_path}",
          "--trainer.logger.name=tb", "--trainer.log_every_n_steps=1", "--trainer.enable_progress_bar=false",
          "--trainer.callbacks+=datgan_lightning.callbacks.ImageQualityMetrics",
          "--trainer.callbacks.extractor=datgan_lightning.metrics.DomainClassifierFeatures",
          f"--trainer.callbacks.extractor.path={classifier}", "--trainer.callbacks.num_real={train: 16, test: 16}",
          "--trainer.callbacks.batch_size=8", "--trainer.callbacks.kid_subset_size=8", "--trainer.callbacks.cache_dir=null",
          "--model.init_args.ngf=4", "--model.init_args.ndf=4", "--model.init_args.max_iterations=2",
          "--data=datgan_lightning.data.NpzImages", f"--data.path={_mnist_like(tmp_path)}", "--data.batch_size=4"])
    (metrics_csv,) = (tmp_path / "csv").rglob("metrics.csv")
    with open(metrics_csv) as f:
        columns = set(csv.DictReader(f).fieldnames)
    assert {"robustness/flip_share_fake", "robustness/accuracy_real_fgsm", "loss/d"} <= columns
    assert {c.split("/")[0] for c in columns if c.endswith(DomainClassifierFeatures(str(classifier)).name)} == {"fid", "kid", "kid_std", "is", "is_std"}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (events,) = (tmp_path / "tb").rglob("events.out.tfevents.*")
    accumulator = EventAccumulator(str(events))
    accumulator.Reload()
    tags = set(accumulator.Tags()["scalars"])
    assert "robustness/flip_share_fake" in tags and any(t.startswith("fid/test/") for t in tags)
    assert "samples" in accumulator.Tags()["images"]


def test_sample_grid_uses_the_ema_generator(tmp_path):
    model = DCGAN(channels=1, ngf=4, ndf=4, latent_dim=8, ema_decay=0.5)
    with torch.no_grad():
        for p in model.generator_ema.module.parameters():
            p.zero_()  # an EMA generator of all zeros outputs tanh(0) = 0 everywhere
    grid = SampleGrid(num_samples=4, nrow=2).grid(model)
    assert torch.allclose(grid[:, 2:34, 2:34], torch.full_like(grid[:, 2:34, 2:34], 0.5))  # 0 -> mid-grey after normalize


def test_datgan_evaluate_prints_and_writes_json_for_a_checkpoint(tmp_path, capsys):
    data = ["--data=datgan_lightning.data.NpzImages", f"--data.path={_mnist_like(tmp_path)}", "--data.batch_size=4"]
    common = ["--config", str(CONFIGS / "cpu" / "dcgan_mnist_dat.yaml"), f"--trainer.default_root_dir={tmp_path}",
              f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.enable_progress_bar=false",
              "--model.init_args.ngf=4", "--model.init_args.ndf=4", *data]
    main(["fit", *common, "--model.init_args.max_iterations=2", "--trainer.enable_model_summary=false"])
    (checkpoint,) = tmp_path.rglob("last.ckpt")
    out = tmp_path / "scores.json"
    main(["evaluate", *common, "--trainer.callbacks+=datgan_lightning.callbacks.RobustnessMetrics",
          "--trainer.callbacks.init_args.max_iterations=5", f"--ckpt_path={checkpoint}", f"--out={out}"])
    scores = json.loads(out.read_text())
    assert scores["generator_iterations"] == 2 and 0 <= scores["robustness/flip_share_fake"] <= 1
    assert '"robustness/accuracy_real_clean"' in capsys.readouterr().out

    # Lightning's own verbs score the checkpoint through the same callbacks and print their table
    main(["validate", *common, "--trainer.callbacks+=datgan_lightning.callbacks.RobustnessMetrics",
          "--trainer.callbacks.init_args.max_iterations=5", f"--ckpt_path={checkpoint}"])
    printed = capsys.readouterr().out
    assert "robustness/flip_share_fake" in printed and f"{scores['robustness/flip_share_fake']:.4g}"[:4] in printed
