"""configs/stabilizers/: every (data fraction, method) cell stacks on SNGAN-32 CIFAR-10 and on its CPU
size with the intended perturbation, augmentations, regularizers and subset, and every method trains
one generator iteration on the offline CIFAR-10 subset (10% of it, tiny widths)."""

import pytest

from datgan_lightning.adversarial import DAT
from datgan_lightning.augmentations import AdaptiveAugment, DiffAugment
from datgan_lightning.cli import create_cli
from datgan_lightning.data import CIFAR10, NpzImages
from datgan_lightning.modules import SNGAN
from datgan_lightning.regularizers import BCR, LeCam
from tests.conftest import CONFIGS, REPO

SUBSET = (REPO / ".." / "shared" / "data" / "cifar10_subset.npz").resolve()
STABILIZERS = CONFIGS / "stabilizers"
FRACTIONS = {"data_100": 1.0, "data_20": 0.2, "data_10": 0.1}
METHODS = {  # method file: (DAT?, augmentation classes, regularizer classes)
    "baseline": (False, [], []),
    "dat": (True, [], []),
    "diffaugment": (False, [DiffAugment], []),
    "diffaugment_dat": (True, [DiffAugment], []),
    "ada": (False, [AdaptiveAugment], []),
    "bcr": (False, [], [BCR]),
    "lecam": (False, [], [LeCam]),
    "lecam_diffaugment": (False, [DiffAugment], [LeCam]),
    "lecam_diffaugment_dat": (True, [DiffAugment], [LeCam]),
}
TINY = ["--model.init_args.ngf=8", "--model.init_args.ndf=8"]
BASES = {"gpu": ("table2/sngan_cifar10.yaml", CIFAR10), "cpu": ("cpu/sngan_cifar10_subset.yaml", NpzImages)}


def _arguments(base, fraction, method, tmp_path):
    return ["--config", str(CONFIGS / base), "--config", str(STABILIZERS / f"{fraction}.yaml"), "--config", str(STABILIZERS / f"{method}.yaml"),
            f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger.init_args.save_dir={tmp_path}"]


def _check_model(model, method):
    dat, augmentations, regularizers = METHODS[method]
    assert type(model) is SNGAN and model.resolution == 32 and model.hparams.loss == "hinge" and model.n_dis == 5
    assert isinstance(model.perturbation, DAT) == dat and (model.perturbation is None) == (not dat)
    assert [type(a) for a in model.augmentations] == augmentations
    assert [type(r) for r in model.regularizers] == regularizers


def test_the_grid_is_there_and_nothing_else():
    assert {p.stem for p in STABILIZERS.glob("*.yaml")} == set(FRACTIONS) | set(METHODS)


@pytest.mark.parametrize("base", sorted(BASES))
def test_every_method_and_fraction_stack_on_both_bases(base, tmp_path):
    """Method files set only the model, fraction files only the data: each method once, the fractions in turn."""
    config, data_class = BASES[base]
    for method, fraction in zip(METHODS, [*FRACTIONS] * 3):
        cli = create_cli([*_arguments(config, fraction, method, tmp_path), *TINY], run=False)
        _check_model(cli.model, method)
        data = cli.datamodule
        assert type(data) is data_class and data.subset_fraction == FRACTIONS[fraction] and data.subset_seed == 0


def test_a_method_file_clears_what_the_base_set(tmp_path):
    """Stacked on the DiffAugment + DAT CPU config, ``baseline`` leaves a plain GAN and ``bcr`` only bCR."""
    base = "cpu/sngan_cifar10_subset_diffaugment_dat.yaml"
    for method in ("baseline", "bcr"):
        _check_model(create_cli([*_arguments(base, "data_100", method, tmp_path), *TINY], run=False).model, method)


@pytest.mark.skipif(not SUBSET.is_file(), reason=f"the offline CIFAR-10 subset is absent ({SUBSET})")
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_trains_one_generator_iteration_on_the_cpu_subset(method, tmp_path):
    args = [*_arguments(BASES["cpu"][0], "data_10", method, tmp_path), f"--data.path={SUBSET}", "--data.batch_size=4", *TINY,
            "--model.init_args.max_iterations=1", "--trainer.callbacks=[]",
            "--trainer.enable_checkpointing=false", "--trainer.logger=false", "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false"]
    cli = create_cli(args, run=False)
    _check_model(cli.model, method)
    cli.trainer.fit(cli.model, cli.datamodule)
    assert cli.model.generator_iterations == 1
    assert len(cli.datamodule.train_dataset) == 466  # 10% of the subset's 4,660 training images
