"""Issue 18's configs: the augmentation and stabilizer files build with their papers' defaults, and the CPU
limited-data pair (SNGAN + DiffAugment [+ DAT] on the offline CIFAR-10 subset) trains one generator
iteration, alone and with LeCam, bCR and ADA stacked from the command line."""

import json

import pytest
import yaml

from datgan_lightning.adversarial import DAT
from datgan_lightning.augmentations import AdaptiveAugment, Augmentation, DiffAugment
from datgan_lightning.cli import create_cli, main
from datgan_lightning.modules import SNGAN
from datgan_lightning.regularizers import BCR, LeCam, Regularizer
from tests.conftest import CONFIGS, REPO

SUBSET = (REPO / ".." / "shared" / "data" / "cifar10_subset.npz").resolve()
PAIR = ("cpu/sngan_cifar10_subset_diffaugment.yaml", "cpu/sngan_cifar10_subset_diffaugment_dat.yaml")
TINY = ["--model.init_args.ngf=16", "--model.init_args.ndf=16"]
CALLBACKS = json.dumps([{"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", "init_args": {"save_last": True}}])


def test_augmentation_and_stabilizer_files_have_their_papers_defaults():
    def load(path):
        return yaml.safe_load((CONFIGS / path).read_text())

    diff = Augmentation.from_config(load("augmentations/diffaugment.yaml"))
    assert type(diff) is DiffAugment and diff.config() == DiffAugment().config()
    ada = Augmentation.from_config(load("augmentations/ada.yaml"))
    assert type(ada) is AdaptiveAugment and ada.config() == AdaptiveAugment().config()
    bcr = Regularizer.from_config(load("regularizers/bcr.yaml"))
    default = BCR()  # its augmentation argument is None (the default T); the file spells T out
    assert type(bcr) is BCR and (bcr.weight_real, bcr.weight_fake, bcr.every) == (default.weight_real, default.weight_fake, default.every)
    assert bcr.augmentation.config() == default.augmentation.config()
    lecam = Regularizer.from_config(load("regularizers/lecam.yaml"))
    assert type(lecam) is LeCam and lecam.config() == LeCam().config()


@pytest.mark.skipif(not SUBSET.is_file(), reason=f"the offline CIFAR-10 subset is absent ({SUBSET})")
@pytest.mark.parametrize(
    "config, extra",
    [
        (PAIR[0], []),
        (PAIR[1], [f"--model.init_args.regularizers=[{CONFIGS / 'regularizers' / 'lecam.yaml'}, {CONFIGS / 'regularizers' / 'bcr.yaml'}]",
                   f"--model.init_args.augmentations=[{CONFIGS / 'augmentations' / 'ada.yaml'}]"]),
    ],
    ids=["diffaugment", "dat+ada+lecam+bcr"],
)
def test_cpu_limited_data_config_trains_one_generator_iteration(config, extra, tmp_path):
    args = ["--config", str(CONFIGS / config), f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger.init_args.save_dir={tmp_path}",
            f"--data.path={SUBSET}", "--data.batch_size=4", *TINY, *extra]
    model = create_cli(args, run=False).model
    assert type(model) is SNGAN and len(model.augmentations) == 1
    assert isinstance(model.perturbation, DAT) == config.endswith("_dat.yaml")
    main(["fit", *args, "--model.init_args.max_iterations=1", "--trainer.enable_progress_bar=false",
          "--trainer.enable_model_summary=false", f"--trainer.callbacks={CALLBACKS}"])
    (checkpoint,) = tmp_path.rglob("last.ckpt")
    loaded = SNGAN.load_from_checkpoint(checkpoint)
    assert loaded.generator_iterations == 1
    assert [type(a) for a in loaded.augmentations] == [type(a) for a in model.augmentations]
    assert [type(r) for r in loaded.regularizers] == [type(r) for r in model.regularizers]
