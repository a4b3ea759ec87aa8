"""The image configs: the Table II grid exists with Table I settings, data and model shapes agree,
and every config trains one generator iteration (tiny widths, generated images of its data's shape)."""

import json

import numpy as np
import pytest
import torch

from datgan_lightning.adversarial import DAT, DATT, FGSM
from datgan_lightning.cli import create_cli, main
from datgan_lightning.metrics import InceptionV3Features
from datgan_lightning.modules import DCGAN, SNGAN, SSGAN, WGAN, InfoMaxGAN
from datgan_lightning.regularizers import AR, GP, LP, R1, R2, RFM, ZeroGP
from tests.conftest import CONFIGS

IMAGE_CONFIGS = sorted(p for d in ("table2", "table3", "dcgan", "cpu") for p in (CONFIGS / d).glob("*.yaml"))
MODELS = {"sngan": SNGAN, "ssgan": SSGAN, "infomax_gan": InfoMaxGAN}
DATASETS = {"cifar10": 32, "cifar100": 32, "stl10": 48, "tiny_imagenet": 64, "lsun_bedroom": 64}


def _cli(config, tmp_path, *extra):
    return create_cli(["--config", str(config), f"--trainer.default_root_dir={tmp_path}",
                       f"--trainer.logger.init_args.save_dir={tmp_path}", *extra], run=False)


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
])


def test_table2_trainer_scores_with_the_papers_protocol(tmp_path):
    callbacks = {type(c).__name__: c for c in _cli(CONFIGS / "table2" / "sngan_cifar10_dat.yaml", tmp_path).trainer.callbacks}
    quality = callbacks["ImageQualityMetrics"]
    fid = quality.metrics.paired["test"]["fid"]
    assert isinstance(fid.inception, InceptionV3Features) and fid.inception.name == "inception-v3"
    assert fid.inception.net is None  # built at the first evaluation, not when the config loads
    assert quality.metrics.num_real == {"train": 50000, "test": 10000} and quality.every_n_iterations == 5000
    assert callbacks["RobustnessMetrics"].every_n_iterations == 1000 and callbacks["SampleGrid"].every_n_iterations == 1000


def _tiny_model_args(config):
    model = config.stem.split("_")[0]
    if model in ("dcgan", "wgan", "table3"):
        return ["--model.init_args.ngf=4", "--model.init_args.ndf=4"]
    return ["--model.init_args.ngf=16", "--model.init_args.ndf=16"] + (["--model.init_args.rkhs_dim=8"] if model == "infomax" else [])


@pytest.mark.parametrize("config", IMAGE_CONFIGS, ids=lambda p: p.relative_to(CONFIGS).as_posix())
def test_config_trains_one_generator_iteration(config, tmp_path):
    _train_one_iteration(config, tmp_path)


def _train_one_iteration(config, tmp_path, *overlay):
    """``datgan fit`` of ``config`` (plus ``overlay``, e.g. ``--config`` of a stacked file) for one generator
    iteration at tiny widths on random images of the model's shape; the checkpoint counts it."""
    probe = _cli(config, tmp_path, *overlay, *_tiny_model_args(config))
    model_class, n_dis = type(probe.model), probe.model.n_dis
    channels, size, _ = probe.model.generator.output_shape
    images = np.random.default_rng(0).integers(0, 256, size=(2 * n_dis, channels, size, size), dtype=np.uint8)
    np.savez(tmp_path / "images.npz", train_x=images)
    main(["fit", "--config", str(config), *overlay, f"--trainer.default_root_dir={tmp_path}",
          f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.enable_progress_bar=false",
          "--trainer.enable_model_summary=false", "--model.init_args.max_iterations=1", *_tiny_model_args(config),
          "--data=datgan_lightning.data.NpzImages", f"--data.path={tmp_path / 'images.npz'}", "--data.batch_size=2",
          f"--trainer.callbacks={SMALL_CALLBACKS}"])
    (checkpoint,) = tmp_path.rglob("last.ckpt")
    assert model_class.load_from_checkpoint(checkpoint).generator_iterations == 1


# ------------------------------------------------------------------------------------------------
# Issue 14: the regularizer and perturbation files, and the ablations stacked from small overlays
# (Table III methods, Table IV positions, Fig. 4 grids) on a base config with a second --config.

TABLE3_LOSSES = ("ns", "lsgan", "wasserstein")
TABLE3_METHODS = ("none", "gp", "lp", "zero_gp", "ar", "rfm", "asgan", "dat", "datt")
TABLE4_ROWS = {  # overlay: (DAT positions or None, perturb_in)
    "baseline": (None, "discriminator"),
    "real_only": (("real",), "discriminator"),
    "fake_only": (("fake",), "discriminator"),
    "discriminator_only": (("real", "fake"), "discriminator"),
    "generator_only": (("real", "fake"), "generator"),
    "all": (("real", "fake"), "all"),
}
TINY = ("--model.init_args.ngf=4", "--model.init_args.ndf=4")  # DCGAN widths that build fast
FIG4_LRS = ("0.0002", "0.0005", "0.001", "0.002", "0.005")
FIG4_BETAS = ((0.0, 0.9), (0.0, 0.999), (0.5, 0.9), (0.5, 0.999), (0.9, 0.999))


def _method_of(model):
    """The Table III column a model implements, read back from its regularizers and perturbation."""
    regs, p = [type(r) for r in model.regularizers], model.perturbation
    if p is None:
        return {(): "none", (GP,): "gp", (LP,): "lp", (ZeroGP,): "zero_gp", (AR,): "ar", (RFM,): "rfm"}[tuple(regs)]
    assert regs == []
    return {FGSM: "asgan", DAT: "dat", DATT: "datt"}[type(p)]


def test_regularizer_and_perturbation_files_build_with_their_papers_defaults():
    import yaml

    from datgan_lightning.adversarial.base import PerturbationStrategy
    from datgan_lightning.regularizers import Regularizer

    def build(directory, base):
        return {f.stem: base.from_config(yaml.safe_load(f.read_text())) for f in (CONFIGS / directory).glob("*.yaml")}

    reg = build("regularizers", Regularizer)
    assert {"gp", "lp", "zero_gp", "r1", "r2", "ar", "rfm"} <= set(reg)  # Table III's and R1/R2 (other files may sit beside them)
    assert type(reg["gp"]) is GP and (reg["gp"].weight, reg["gp"].at, reg["gp"].center, reg["gp"].one_sided) == (10.0, "interpolates", 1.0, False)
    assert type(reg["lp"]) is LP and reg["lp"].one_sided and reg["lp"].weight == 10.0
    assert type(reg["zero_gp"]) is ZeroGP and (reg["zero_gp"].center, reg["zero_gp"].at) == (0.0, "interpolates")
    assert (type(reg["r1"]), reg["r1"].at, reg["r1"].weight) == (R1, "real", 5.0) and (type(reg["r2"]), reg["r2"].at) == (R2, "fake")
    for name, cls in (("ar", AR), ("rfm", RFM)):  # the authors' code: --eps 1e-4 --reg 1e1, on reals and fakes
        assert type(reg[name]) is cls and (reg[name].eps, reg[name].weight, reg[name].positions, reg[name].reduction) == (1e-4, 10.0, ("real", "fake"), "norm")
    assert all(reg[name].every == 1 for name in ("gp", "lp", "zero_gp", "r1", "r2", "ar", "rfm"))
    pert = build("perturbation", PerturbationStrategy)
    assert {"dat", "datt", "asgan_table3", "dat_real", "dat_fake"} <= set(pert)
    asgan = pert["asgan_table3"]
    assert type(asgan) is FGSM and asgan.eps == pytest.approx(1 / 255) and asgan.positions == ("real", "fake")  # Table III's ASGAN
    assert type(pert["datt"]) is DATT and (pert["datt"].eps, pert["datt"].steps) == (1.0, 1)
    assert pert["dat_real"].positions == ("real",) and pert["dat_fake"].positions == ("fake",)
    assert all((p.eps, p.steps, p.variant) == (1.0, 1, "batch") for k, p in pert.items() if k.startswith("dat"))


def test_regularizers_list_from_files_inline_or_the_command_line(tmp_path):
    """A ``regularizers`` list takes file references and inline entries mixed in YAML; on the command line
    ``+=FILE`` appends one, ``=[FILE, ...]`` replaces the list, ``=[]`` empties it."""
    gp, r1 = CONFIGS / "regularizers" / "gp.yaml", CONFIGS / "regularizers" / "r1.yaml"
    run = tmp_path / "run.yaml"
    run.write_text(
        f"model:\n  class_path: datgan_lightning.modules.DCGAN\n  init_args:\n    ngf: 4\n    ndf: 4\n"
        f"    regularizers:\n      - {gp}\n      - class_path: datgan_lightning.regularizers.R1\n        init_args: {{weight: 2.0, every: 4}}\n"
        f"data:\n  class_path: datgan_lightning.data.NpzImages\n  init_args: {{path: {tmp_path / 'absent.npz'}}}\n"
        f"trainer: {CONFIGS / 'trainer' / 'cpu.yaml'}\n"
    )

    def regs(*extra):
        return [(type(r), r.weight, r.every) for r in _cli(run, tmp_path, *extra).model.regularizers]

    assert regs() == [(GP, 10.0, 1), (R1, 2.0, 4)]
    assert regs(f"--model.init_args.regularizers+={r1}") == [(GP, 10.0, 1), (R1, 2.0, 4), (R1, 5.0, 1)]
    assert regs(f"--model.init_args.regularizers=[{r1}]") == [(R1, 5.0, 1)]
    assert regs("--model.init_args.regularizers+=datgan_lightning.regularizers.LP", "--model.init_args.regularizers.weight=3") == [
        (GP, 10.0, 1), (R1, 2.0, 4), (LP, 3.0, 1)]
    assert regs("--model.init_args.regularizers=[]") == []
    # and with a perturbation on the same D step
    model = _cli(run, tmp_path, f"--model.init_args.perturbation={CONFIGS / 'perturbation' / 'dat.yaml'}").model
    assert type(model.perturbation) is DAT and len(model.regularizers) == 2


def test_a_bad_regularizer_option_in_a_config_is_one_sentence(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _cli(CONFIGS / "cpu" / "table3_ns.yaml", tmp_path, f"--model.init_args.regularizers=[{CONFIGS / 'regularizers' / 'gp.yaml'}]",
             "--model.init_args.regularizers.weight=-1")
    assert "GP: weight=-1.0 is invalid; use a finite number >= 0" in capsys.readouterr().err


@pytest.mark.parametrize("loss", TABLE3_LOSSES)
def test_table3_cells_have_the_papers_setup_and_their_method(loss, tmp_path):
    for method in TABLE3_METHODS:
        cli = _cli(CONFIGS / "table3" / f"{loss}.yaml", tmp_path, "--config", str(CONFIGS / "table3" / "methods" / f"{method}.yaml"), *TINY)
        m, hp = cli.model, cli.model.hparams
        assert type(m) is DCGAN and hp.loss == loss and m.generator.latent_dim == 128 and m.n_dis == 1  # Table III: z = 128
        assert (hp.lr_g, hp.lr_d, tuple(hp.betas_g), tuple(hp.betas_d), hp.lr_decay) == (1e-4, 1e-4, (0.5, 0.999), (0.5, 0.999), "none")
        assert cli.datamodule.batch_size == 64 and m.max_iterations == 100_000 and _method_of(m) == method
        assert m.perturbation is None or (m.perturbation.loss.name == loss and m.hparams.perturb_in == "discriminator")
        assert all(r.loss is None or r.loss.name == loss for r in m.regularizers)
    # the CPU base of the same row differs only in size
    cpu = _cli(CONFIGS / "cpu" / f"table3_{loss}.yaml", tmp_path).model
    assert (cpu.hparams.loss, cpu.generator.latent_dim, cpu.hparams.lr_d, tuple(cpu.hparams.betas_d)) == (loss, 128, 1e-4, (0.5, 0.999))


def test_method_overlays_stack_and_none_clears(tmp_path):
    """Overlays set only their own option, so two stack (GP + DAT); ``none`` clears both."""
    base, methods = CONFIGS / "cpu" / "table3_ns.yaml", CONFIGS / "table3" / "methods"
    both = _cli(base, tmp_path, "--config", str(methods / "gp.yaml"), "--config", str(methods / "dat.yaml")).model
    assert [type(r) for r in both.regularizers] == [GP] and type(both.perturbation) is DAT
    cleared = _cli(base, tmp_path, "--config", str(methods / "gp.yaml"), "--config", str(methods / "dat.yaml"),
                   "--config", str(methods / "none.yaml")).model
    assert _method_of(cleared) == "none"


@pytest.mark.parametrize("row", sorted(TABLE4_ROWS))
def test_table4_rows_place_dat_where_the_table_says(row, tmp_path):
    positions, perturb_in = TABLE4_ROWS[row]
    for base in (CONFIGS / "table2" / "sngan_cifar10.yaml", CONFIGS / "cpu" / "sngan_cifar10_subset.yaml"):
        m = _cli(base, tmp_path, "--config", str(CONFIGS / "table4" / f"{row}.yaml")).model
        assert type(m) is SNGAN and m.resolution == 32 and m.hparams.loss == "hinge" and m.n_dis == 5
        assert m.hparams.perturb_in == perturb_in
        if positions is None:
            assert m.perturbation is None and not m.perturb_discriminator and not m.perturb_generator
        else:
            assert type(m.perturbation) is DAT and m.perturbation.positions == positions and m.perturbation.eps == 1.0
            assert m.perturb_discriminator == (perturb_in != "generator") and m.perturb_generator == (perturb_in != "discriminator")


@pytest.mark.parametrize("eps,steps", [(0.2, 1), (0.6, 2), (1.0, 5), (3.0, 1)])
def test_fig6_and_fig7_are_command_line_overrides_of_the_dat_config(eps, steps, tmp_path):
    p = _cli(CONFIGS / "table2" / "sngan_cifar10_dat.yaml", tmp_path, f"--model.init_args.perturbation.init_args.eps={eps}",
             f"--model.init_args.perturbation.init_args.steps={steps}").model.perturbation
    assert type(p) is DAT and (p.eps, p.steps, p.positions, p.variant) == (eps, steps, ("real", "fake"), "batch")


def test_fig4_overlays_set_the_grid_on_dcgan_with_and_without_dat(tmp_path):
    assert sorted(p.stem for p in (CONFIGS / "fig4").glob("*.yaml")) == sorted(
        [f"lr_{lr}" for lr in FIG4_LRS] + [f"betas_{b1}_{b2}" for b1, b2 in FIG4_BETAS])
    cells = [(base, lr, (0.5, 0.999)) for base in ("cpu/dcgan_cifar10_subset", "cpu/dcgan_cifar10_subset_dat") for lr in FIG4_LRS]
    cells += [(base, "0.0002", betas) for base in ("cpu/dcgan_cifar10_subset", "cpu/dcgan_cifar10_subset_dat") for betas in FIG4_BETAS]
    cells += [(base, "0.002", (0.5, 0.999)) for base in ("dcgan/dcgan_cifar10", "dcgan/dcgan_cifar10_dat")]  # the full-size bases
    cells += [(base, "0.0002", (0.0, 0.9)) for base in ("dcgan/dcgan_cifar10", "dcgan/dcgan_cifar10_dat")]
    for base, lr, betas in cells:
        overlay = f"lr_{lr}" if betas == (0.5, 0.999) else f"betas_{betas[0]}_{betas[1]}"
        m = _cli(CONFIGS / f"{base}.yaml", tmp_path, "--config", str(CONFIGS / "fig4" / f"{overlay}.yaml"), *TINY).model
        assert type(m) is DCGAN and m.hparams.lr_g == m.hparams.lr_d == float(lr)
        assert tuple(m.hparams.betas_g) == tuple(m.hparams.betas_d) == betas
        assert (m.perturbation is not None) == base.endswith("_dat") and m.generator.latent_dim == 100 and m.n_dis == 1


# each overlay trains one generator iteration on a CPU base (Table III methods spread over the three losses)
OVERLAY_RUNS = (
    [(f"cpu/table3_{TABLE3_LOSSES[i % 3]}.yaml", f"table3/methods/{m}.yaml") for i, m in enumerate(TABLE3_METHODS)]
    + [("cpu/sngan_cifar10_subset.yaml", f"table4/{row}.yaml") for row in sorted(TABLE4_ROWS)]
    + [("cpu/dcgan_cifar10_subset.yaml", f"fig4/lr_{lr}.yaml") for lr in FIG4_LRS]
    + [("cpu/dcgan_cifar10_subset_dat.yaml", f"fig4/betas_{b1}_{b2}.yaml") for b1, b2 in FIG4_BETAS]
)


@pytest.mark.parametrize("base,overlay", OVERLAY_RUNS, ids=[o for _, o in OVERLAY_RUNS])
def test_overlay_trains_one_generator_iteration(base, overlay, tmp_path):
    _train_one_iteration(CONFIGS / base, tmp_path, "--config", str(CONFIGS / overlay))


def test_every_overlay_file_is_run_by_a_test():
    overlays = {p.relative_to(CONFIGS).as_posix() for d in ("table3/methods", "table4", "fig4") for p in (CONFIGS / d).glob("*.yaml")}
    assert overlays == {o for _, o in OVERLAY_RUNS}


def test_robgan_configs_build_as_the_paper_and_train_one_iteration_on_labelled_images(tmp_path):
    """Issue 15: the Rob-GAN configs (co-training at 32/64 px, fine-tuning) build with the paper's settings,
    and the CPU co-training and fine-tuning configs each train one step on labelled images."""
    from datgan_lightning.modules import RobGAN

    ROBGAN_CALLBACKS = json.dumps([
        {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", "init_args": {"save_last": True}},
        {"class_path": "datgan_lightning.callbacks.ClassifierRobustness", "init_args": {"num_samples": 4, "steps": 2}},
    ])
    for name, resolution, classes in (("robgan_cifar10", 32, 10), ("robgan_imagenet143_64", 64, 143)):
        model = _cli(CONFIGS / "robgan" / f"{name}.yaml", tmp_path, "--model.init_args.ngf=2", "--model.init_args.ndf=2").model
        assert type(model) is RobGAN and model.generator.output_shape == (3, resolution, resolution)
        assert (model.generator.num_classes, model.class_loss, model.n_dis) == (classes, "split", 5)
        assert (model.attack_eps, model.attack_steps, model.attack_step_size) == (0.03125, 5, 0.0078)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "images.npz", train_x=rng.integers(0, 256, size=(10, 3, 32, 32), dtype=np.uint8), train_y=np.arange(10) % 10)
    common = [f"--trainer.default_root_dir={tmp_path}", f"--trainer.logger.init_args.save_dir={tmp_path}",
              "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", "--model.init_args.ngf=2",
              "--model.init_args.ndf=2", "--data=datgan_lightning.data.NpzImages", f"--data.path={tmp_path / 'images.npz'}",
              "--data.batch_size=2", f"--trainer.callbacks={ROBGAN_CALLBACKS}"]
    main(["fit", "--config", str(CONFIGS / "robgan" / "cifar10_subset_cpu.yaml"), "--model.init_args.max_iterations=1", *common])
    (checkpoint,) = tmp_path.rglob("last.ckpt")
    assert RobGAN.load_from_checkpoint(checkpoint).generator_iterations == 1


def test_robgan_finetune_configs_build_as_the_paper_and_train_one_step(tmp_path):
    from torch.utils.data import DataLoader, TensorDataset

    from datgan_lightning.modules import RobGAN, RobGANFinetune
    from tests.conftest import fast_trainer

    cotrain = RobGAN(num_classes=10, ngf=2, ndf=2, max_iterations=1)
    trainer = fast_trainer(tmp_path)
    trainer.fit(cotrain, DataLoader(TensorDataset(torch.rand(10, 3, 32, 32) * 2 - 1, torch.arange(10)), batch_size=2))
    trainer.save_checkpoint(tmp_path / "cotrained.ckpt")
    finetune = _cli(CONFIGS / "robgan" / "robgan_cifar10_finetune.yaml", tmp_path, "--model.init_args.ngf=2", "--model.init_args.ndf=2").model
    assert type(finetune) is RobGANFinetune and finetune.stages == [20, 20, 10, 10] and 0.3 <= finetune.lam <= 0.8
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "images.npz", train_x=rng.integers(0, 256, size=(10, 3, 32, 32), dtype=np.uint8), train_y=np.arange(10) % 10)
    main(["fit", "--config", str(CONFIGS / "robgan" / "cifar10_subset_cpu_finetune.yaml"), "--model.init_args.max_iterations=1",
          f"--model.init_args.checkpoint={tmp_path / 'cotrained.ckpt'}", f"--trainer.default_root_dir={tmp_path / 'ft'}",
          f"--trainer.logger.init_args.save_dir={tmp_path / 'ft'}", "--trainer.enable_progress_bar=false",
          "--trainer.enable_model_summary=false", "--data=datgan_lightning.data.NpzImages", f"--data.path={tmp_path / 'images.npz'}",
          "--data.batch_size=2", "--trainer.callbacks=[{class_path: lightning.pytorch.callbacks.ModelCheckpoint, init_args: {save_last: true}}]"])
    (finetuned,) = (tmp_path / "ft").rglob("last.ckpt")
    assert RobGANFinetune.load_from_checkpoint(finetuned).generator_iterations == 1
