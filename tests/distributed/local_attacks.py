"""Run by ``test_local_attacks.py`` as R subprocesses (gloo, one thread each): every perturbation strategy
attacks only the rank's own rows, and those rows come out as in the one-process attack on the global batch.

    RANK=r WORLD_SIZE=R MASTER_ADDR=127.0.0.1 MASTER_PORT=p python tests/distributed/local_attacks.py OUT_DIR

Each rank first computes the reference without a process group (the whole global batch, as one device),
then joins the group and runs the same strategy, from the same D, on its rows only, with a forward hook
recording the largest batch D sees. Cases: DAT (batch and sample, 1 and 3 steps, reals only), DATT, FGSM
and PGD on a spectral-norm D without BatchNorm; the same on a D with BatchNorm, synchronised as
``gan_ddp`` does with ``sync_batchnorm`` (GlobalBatchNorm) against plain BatchNorm on one process; and
through the modules' ``perturb`` (GAN, ProjectionGAN with labels). Writes ``OUT_DIR/rank<r>.json``:
per case the max |difference| on the rank's rows and the largest D input.
"""

import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from datgan_lightning.adversarial import DAT, DATT, FGSM, PGD
from datgan_lightning.distributed import GlobalBatchNorm, own_rows
from datgan_lightning.modules import GAN, ProjectionGAN
from tests.distributed.ddp_train import TinyGenerator, spectral_d

GLOBAL_BATCH = 8

STRATEGIES = {
    "dat_batch_1": lambda: DAT(eps=1.0),
    "dat_batch_3": lambda: DAT(eps=0.5, steps=3),
    "dat_batch_real": lambda: DAT(eps=1.0, positions=("real",)),
    "dat_sample_1": lambda: DAT(eps=0.05, variant="sample", loss="hinge"),
    "dat_sample_3": lambda: DAT(eps=0.05, steps=3, variant="sample", loss="ns"),
    "datt": lambda: DATT(eps=1.0, steps=2),
    "fgsm": lambda: FGSM(eps=0.05, loss="hinge"),
    "pgd": lambda: PGD(eps=0.05, steps=3, step_size=0.02, positions=("real", "fake"), loss="hinge"),
    "pgd_train_mode": lambda: PGD(eps=0.05, steps=3, step_size=0.02, loss="ns", eval_mode=False),
}


def batchnorm_d() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.LeakyReLU(0.1), nn.Conv2d(8, 8, 4, 2, 1),
                         nn.BatchNorm2d(8), nn.LeakyReLU(0.1), nn.Flatten(), nn.Linear(8 * 4 * 4, 1))


def synchronised(d: nn.Module) -> nn.Module:
    """What gan_ddp makes of a D with sync_batchnorm on CPU."""
    d = nn.SyncBatchNorm.convert_sync_batchnorm(d)
    for layer in d.modules():
        if type(layer) is nn.SyncBatchNorm:
            layer.__class__ = GlobalBatchNorm
    return d


class LargestInput:
    """A forward hook that keeps the largest batch a module was called with."""

    def __init__(self, module: nn.Module) -> None:
        self.rows = 0
        module.register_forward_hook(self)

    def __call__(self, module, inputs, output) -> None:
        self.rows = max(self.rows, len(inputs[0]))


def batches(shape=(1, 8, 8)):
    generator = torch.Generator().manual_seed(7)
    ramp = torch.linspace(-0.5, 0.5, GLOBAL_BATCH).view(-1, *[1] * len(shape))  # ranks' rows differ: their own means would not do
    real = (torch.rand(GLOBAL_BATCH, *shape, generator=generator) - 0.5 + ramp).clamp(-1, 1)
    fake = (torch.rand(GLOBAL_BATCH, *shape, generator=generator) * 0.8 - 0.4 - ramp).clamp(-1, 1)
    return real, fake


def cases():
    """name -> (make the attacked module, run it on (real, fake[, labels]) -> (real_adv, fake_adv), the D to hook)."""
    found = {}
    for d_name, make_d in (("plain", spectral_d), ("batchnorm", batchnorm_d)):
        for name, make in STRATEGIES.items():
            def build(make_d=make_d, make=make, d_name=d_name):
                torch.manual_seed(0)
                d = make_d()
                return (synchronised(d) if d_name == "batchnorm" and dist.is_initialized() else d), make()
            found[f"{d_name}/{name}"] = (build, lambda built, real, fake, labels: built[1](built[0], real, fake), lambda built: built[0])

    def build_gan():
        torch.manual_seed(0)
        return GAN(TinyGenerator(), spectral_d(), loss="hinge", perturbation=DAT(eps=1.0, steps=2))

    def build_projection():
        torch.manual_seed(0)
        return ProjectionGAN(num_classes=3, ngf=2, ndf=2, perturbation=DAT(eps=1.0, steps=2))

    def run_module(model, real, fake, labels):
        return model.perturb(model.discriminator, real, fake, model.discriminator_labels(labels))

    found["module/gan"] = (build_gan, run_module, lambda model: model.discriminator)
    found["module/projection_gan"] = (build_projection, run_module, lambda model: model.discriminator)
    return found


def main() -> None:
    out = Path(sys.argv[1])
    torch.set_num_threads(1)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = GLOBAL_BATCH // world
    rows = slice(rank * local, (rank + 1) * local)
    labels = torch.arange(GLOBAL_BATCH) % 3
    inputs = {"image": batches(), "rgb32": batches((3, 32, 32))}
    found = cases()
    references = {}
    for name, (build, run, _) in found.items():  # one device, the global batch; before the process group exists
        real, fake = inputs["rgb32" if name == "module/projection_gan" else "image"]
        references[name] = run(build(), real, fake, labels)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    report = {}
    for name, (build, run, hooked) in found.items():
        real, fake = inputs["rgb32" if name == "module/projection_gan" else "image"]
        built = build()
        largest = LargestInput(hooked(built))
        attacked = run(built, real[rows], fake[rows], labels[rows])
        expected = [own_rows(x, local) for x in references[name]]
        report[name] = {
            "difference": max((a - e).abs().max().item() for a, e in zip(attacked, expected)),
            "moved": max((e[-local:] - x[rows]).abs().max().item() for e, x in zip(expected, (real, fake))),  # DATT: clean, then attacked
            "largest_input": largest.rows,
            "local": local,
        }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"rank{rank}.json").write_text(json.dumps(report, indent=1))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
