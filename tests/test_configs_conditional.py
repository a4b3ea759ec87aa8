"""The projection-cGAN configs: the paper-size one builds as documented, the CPU one trains one generator
iteration with DAT stacked from configs/perturbation/dat.yaml on labelled images and checkpoints it."""

import numpy as np

from datgan_lightning.adversarial import DAT
from datgan_lightning.cli import main
from datgan_lightning.modules import ProjectionGAN
from tests.conftest import CONFIGS
from tests.test_configs import _cli

TINY = ("--model.init_args.ngf=2", "--model.init_args.ndf=2")


def test_projection_configs_build_and_the_cpu_one_trains_with_dat(tmp_path):
    model = _cli(CONFIGS / "conditional" / "projection_cifar10.yaml", tmp_path, *TINY).model
    assert type(model) is ProjectionGAN and model.generator.num_classes == 10 and model.n_dis == 5
    assert model.loss.name == "hinge" and model.perturbation is None
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "images.npz", train_x=rng.integers(0, 256, size=(10, 3, 32, 32), dtype=np.uint8), train_y=np.arange(10) % 10)
    main(["fit", "--config", str(CONFIGS / "conditional" / "projection_cifar10_subset_cpu.yaml"),
          f"--model.init_args.perturbation={CONFIGS / 'perturbation' / 'dat.yaml'}", "--model.init_args.max_iterations=1",
          f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger.init_args.save_dir={tmp_path}",
          "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", *TINY,
          "--data=datgan_lightning.data.NpzImages", f"--data.path={tmp_path / 'images.npz'}", "--data.batch_size=2"])
    (checkpoint,) = tmp_path.rglob("last.ckpt")
    trained = ProjectionGAN.load_from_checkpoint(checkpoint)
    assert trained.generator_iterations == 1 and isinstance(trained.perturbation, DAT)
