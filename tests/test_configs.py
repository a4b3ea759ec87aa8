"""The image configs: the Table II grid exists with Table I settings, data and model shapes agree,
and every config trains one generator iteration (tiny widths, generated images of its data's shape)."""

import json

import numpy as np
import pytest

from datgan_lightning.cli import create_cli, main
from datgan_lightning.metrics import InceptionV3Features
from datgan_lightning.modules import DCGAN, SNGAN, WGAN, InfoMaxGAN, SSGAN
from tests.conftest import CONFIGS

IMAGE_CONFIGS = sorted(p for d in ("table2", "dcgan", "cpu") for p in (CONFIGS / d).glob("*.yaml"))
MODELS = {"sngan": SNGAN, "ssgan": SSGAN, "infomax_gan": InfoMaxGAN}
DATASETS = {"cifar10": 32, "cifar100": 32, "stl10": 48, "tiny_imagenet": 64, "lsun_bedroom": 64}


def _cli(config, tmp_path, *extra):
    return create_cli(["--config", str(config), f"--trainer.default_root_dir={tmp_path}",
                       f"--trainer.logger.init_args.save_dir={tmp_path}", *extra], run=False)  # fmt: skip


def test_table2_grid_and_cifar10_baselines_are_all_there():
    names = {p.relative_to(CONFIGS).as_posix() for p in IMAGE_CONFIGS}
    grid = {f"table2/{m}_{d}{dat}.yaml" for m in MODELS for d in DATASETS for dat in ("", "_dat")}
    assert len(grid) == 30 and grid <= names
    assert {f"dcgan/{m}_cifar10{dat}.yaml" for m in ("dcgan", "wgan") for dat in ("", "_dat")} <= names
    assert {"cpu/dcgan_mnist.yaml", "cpu/dcgan_mnist_dat.yaml", "cpu/sngan_cifar10_subset_dat.yaml"} <= names


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_table2_cell_has_table1_settings_and_matching_shapes(model, dataset, tmp_path):
    for dat in (False, True):
        cli = _cli(CONFIGS / "table2" / f"{model}_{dataset}{'_dat' if dat else ''}.yaml", tmp_path)
        m, hp, data = cli.model, cli.model.hparams, cli.datamodule
        assert type(m) is MODELS[model] and m.resolution == DATASETS[dataset]
        assert (hp.loss, hp.n_dis, hp.lr_g, hp.lr_d, tuple(hp.betas_g), tuple(hp.betas_d)) == ("hinge", 5, 2e-4, 2e-4, (0.0, 0.9), (0.0, 0.9))
        assert m.max_iterations == 100_000 and hp.lr_decay == ("none" if dataset == "tiny_imagenet" else "linear")
        assert data.batch_size == 64 and data.image_shape == m.generator.output_shape
        assert (m.perturbation is not None) == dat


def test_dcgan_and_wgan_configs_use_their_papers_settings(tmp_path):
    dcgan = _cli(CONFIGS / "dcgan" / "dcgan_cifar10_dat.yaml", tmp_path).model
    assert type(dcgan) is DCGAN and dcgan.generator.latent_dim == 100 and dcgan.n_dis == 1
    assert tuple(dcgan.hparams.betas_g) == (0.5, 0.999) and dcgan.hparams.lr_g == 2e-4 and dcgan.perturbation is not None
    wgan = _cli(CONFIGS / "dcgan" / "wgan_cifar10.yaml", tmp_path).model
    assert type(wgan) is WGAN and wgan.clip_value == 0.01 and wgan.hparams.loss == "wasserstein" and wgan.n_dis == 5
    assert wgan.generator.latent_dim == 128 and wgan.hparams.lr_g == 1e-4 and tuple(wgan.hparams.betas_d) == (0.5, 0.999)  # Table III


# the configs' metric callbacks at test size, without the Inception network (no download in tests)
SMALL_CALLBACKS = json.dumps([
    {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", "init_args": {"save_last": True}},
    {"class_path": "datgan_lightning.callbacks.RobustnessMetrics", "init_args": {"num_samples": 4, "max_iterations": 3}},
    {"class_path": "datgan_lightning.callbacks.SampleGrid", "init_args": {"num_samples": 4, "nrow": 2}},
])  # fmt: skip


def test_table2_trainer_scores_with_the_papers_protocol(tmp_path):
    callbacks = {type(c).__name__: c for c in _cli(CONFIGS / "table2" / "sngan_cifar10_dat.yaml", tmp_path).trainer.callbacks}
    quality = callbacks["ImageQualityMetrics"]
    assert isinstance(quality.quality.extractor, InceptionV3Features) and quality.quality.extractor.name == "inception-v3"
    assert quality.quality.extractor.net is None  # built at the first evaluation, not when the config loads
    assert quality.quality.num_real == {"train": 50000, "test": 10000} and quality.every_n_iterations == 5000
    assert callbacks["RobustnessMetrics"].every_n_iterations == 1000 and callbacks["SampleGrid"].every_n_iterations == 1000


def _tiny_model_args(config):
    model = config.stem.split("_")[0]
    if model in ("dcgan", "wgan"):
        return ["--model.init_args.ngf=4", "--model.init_args.ndf=4"]
    return ["--model.init_args.ngf=16", "--model.init_args.ndf=16"] + (["--model.init_args.rkhs_dim=8"] if model == "infomax" else [])


@pytest.mark.parametrize("config", IMAGE_CONFIGS, ids=lambda p: p.relative_to(CONFIGS).as_posix())
def test_config_trains_one_generator_iteration(config, tmp_path):
    probe = _cli(config, tmp_path, *_tiny_model_args(config))
    model_class, n_dis = type(probe.model), probe.model.n_dis
    channels, size, _ = probe.model.generator.output_shape
    images = np.random.default_rng(0).integers(0, 256, size=(2 * n_dis, channels, size, size), dtype=np.uint8)
    np.savez(tmp_path / "images.npz", train_x=images)
    main(["fit", "--config", str(config), f"--trainer.default_root_dir={tmp_path}",
          f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.enable_progress_bar=false",
          "--trainer.enable_model_summary=false", "--model.init_args.max_iterations=1", *_tiny_model_args(config),
          "--data=datgan_lightning.data.NpzImages", f"--data.path={tmp_path / 'images.npz'}", "--data.batch_size=2",
          f"--trainer.callbacks={SMALL_CALLBACKS}"])  # fmt: skip
    (checkpoint,) = tmp_path.rglob("last.ckpt")
    assert model_class.load_from_checkpoint(checkpoint).generator_iterations == 1
