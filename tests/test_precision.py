"""Mixed precision on CPU with manual optimization: bf16-mixed (Lightning's CPU AMP) and fp16 with a
GradScaler (Lightning turns ``precision="16-mixed"`` into bf16 on CPU, so the fp16 path is the plugin
``MixedPrecision("16-mixed", "cpu", GradScaler("cpu"))``); DAT's perturbation equals the fp32 one."""

import math

import lightning as L
import pytest
import torch
from lightning.pytorch.plugins import MixedPrecision
from torch.utils.data import DataLoader, TensorDataset

from datgan_lightning.adversarial import DAT, PGD
from datgan_lightning.modules import ASGAN, SNGAN
from datgan_lightning.nets.sngan import SNGANDiscriminator32, SNGANGenerator32
from datgan_lightning.regularizers import GP, R1

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 32, 32, generator=g) * 2 - 1, torch.rand(n, 3, 32, 32, generator=g) * 2 - 1


@pytest.mark.parametrize("variant", ["batch", "sample"])
@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_dat_perturbation_under_autocast_equals_fp32(dtype, variant):
    """GANObjective.perturb runs the attack outside autocast: the same delta as fp32 (tolerance 1e-6). Called
    under autocast directly, DAT loses it: bf16 rounds the two batch means to one value (delta 0)."""
    gan = SNGAN(ngf=4, ndf=16, perturbation=DAT(eps=1.0, variant=variant)).eval()  # eval: SN's u stays put
    real, fake = _batch()
    fake_mixed = fake.to(DTYPES[dtype])  # as G makes it under autocast
    fake = fake_mixed.float()
    fp32 = torch.cat(gan.objective.perturb(gan.discriminator, real, fake)) - torch.cat([real, fake])
    assert fp32.abs().max() > 1e-4
    with torch.autocast("cpu", dtype=DTYPES[dtype]):
        mixed = torch.cat(gan.objective.perturb(gan.discriminator, real, fake_mixed)) - torch.cat([real, fake])
        direct = torch.cat(gan.perturbation(gan.discriminator, real, fake)) - torch.cat([real, fake])
    assert mixed.dtype == torch.float32 and (mixed - fp32).abs().max() < 1e-6
    error = ((direct - fp32).norm() / fp32.norm()).item()
    print(f"{dtype} {variant}: relative error of DAT called under autocast {error:.3g}")
    assert error > (0.1 if dtype == "bf16" else 1e-3)


def _fit(model, precision=None, plugins=None, iterations=3):
    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(accelerator="cpu", precision=precision, plugins=plugins, logger=False, log_every_n_steps=1,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    losses = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            losses.append({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("loss/")})

    trainer.callbacks.append(Record())
    trainer.fit(model, DataLoader(TensorDataset(_batch(8 * iterations * model.n_dis)[0]), batch_size=8))
    return trainer, losses


def _fp16():
    return [MixedPrecision("16-mixed", "cpu", torch.amp.GradScaler("cpu", init_scale=2.0**10))]


@pytest.mark.parametrize("setting", ["bf16-mixed", "fp16+GradScaler"])
@pytest.mark.parametrize(
    "make",
    [
        lambda: SNGAN(ngf=4, ndf=4, n_dis=2, max_iterations=3, perturbation=DAT(eps=1.0), regularizers=[GP(), R1(weight=1.0)]),
        lambda: SNGAN(ngf=4, ndf=4, n_dis=1, max_iterations=3, perturbation=PGD(eps=2 / 255, steps=2)),
        lambda: ASGAN(generator=SNGANGenerator32(ngf=4), discriminator=SNGANDiscriminator32(ndf=4), loss="hinge", max_iterations=3),
    ],
    ids=["dat+gp+r1", "pgd", "asgan"],
)
def test_mixed_precision_trains_dat_pgd_asgan_and_penalties_with_finite_losses(make, setting):
    model = make()
    plugins, precision = (_fp16(), None) if setting.startswith("fp16") else (None, setting)
    trainer, losses = _fit(model, precision, plugins)
    assert trainer.precision == ("16-mixed" if plugins else "bf16-mixed")
    assert model.generator_iterations == 3 and len(losses) == 3 * model.n_dis
    assert all(math.isfinite(v) for step in losses for v in step.values()) and "loss/g" in losses[-1]
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("name", ["AR", "RFM"])
def test_ar_and_rfm_terms_under_bf16_autocast_equal_fp32(name):
    """AR/RFM step eps = 1e-4 along the input gradient: below bf16's resolution of D's inputs, so under
    autocast D(x') - D(x) would be 0. The regularizer runs its attack and change in fp32 (tolerance 1e-4)."""
    from datgan_lightning import regularizers

    D = SNGANDiscriminator32(ndf=16).eval()  # eval: SN's u stays put between the two calls
    reg = getattr(regularizers, name)(loss="hinge")
    real, fake_mixed = _batch(8)[0], _batch(8)[1].bfloat16()  # fakes as G makes them under autocast
    fp32 = reg(D, real, fake_mixed.float())
    assert fp32 > 0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = reg(D, real, fake_mixed)
    assert mixed.dtype == torch.float32 and abs(float(mixed) - float(fp32)) <= 1e-4 * float(fp32)
