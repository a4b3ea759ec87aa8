"""Run by ``test_ddp_training.py`` as a subprocess: a few generator iterations of a tiny SNGAN-style GAN
(spectral-norm D, hinge loss, n_dis 2, DAT) on a global batch of 8, on 1 process or 2 (gloo), and the
weights written per rank.

    python tests/distributed/ddp_train.py OUT_DIR --devices 2 [--num-nodes 2] [--strategy gan_ddp]
        [--batchnorm]

Each of the global batch's 8 latents is fixed by its step and its row, and each rank draws its rows of
it; the data sampler gives each rank half of every 1-process batch: the 2-process run sees the same
global batches as the 1-process one. Writes ``OUT_DIR/rank<r>.pt`` (G and D state) and ``rank<r>.json`` (with the last logged values).
(DDP inside pytest would re-run the pytest session in the child process, hence a script.)
"""

import argparse
import functools
import json
from pathlib import Path

import lightning as L
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import datgan_lightning.modules  # noqa: F401  (registers gan_ddp)
from datgan_lightning.adversarial import DAT
from datgan_lightning.modules import GAN
from datgan_lightning.nets.base import Generator

GLOBAL_BATCH, LATENT, ITERATIONS, N_DIS = 8, 8, 3, 2


class TinyGenerator(Generator):
    """z -> 1x8x8 images: linear, upsample, conv (optionally BatchNorm), tanh. Its latents are a fixed
    table per call: call k draws rows [rank * n, (rank + 1) * n) of a global batch seeded by k."""

    def __init__(self, batchnorm: bool = False) -> None:
        super().__init__(LATENT)
        self.net = nn.Sequential(
            nn.Linear(LATENT, 8 * 4 * 4), nn.Unflatten(1, (8, 4, 4)), *([nn.BatchNorm2d(8)] if batchnorm else []), nn.ReLU(),
            nn.Upsample(scale_factor=2), nn.Conv2d(8, 1, 3, padding=1), nn.Tanh(),
        )
        self.calls = 0

    def sample_latent(self, n, device=None):
        rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
        table = torch.randn(n * world, LATENT, generator=torch.Generator().manual_seed(1000 + self.calls))
        self.calls += 1
        return table[rank * n : (rank + 1) * n].to(device)

    def forward(self, z):
        return self.net(z)


class RankRows(torch.utils.data.Sampler):
    """Rank ``rank``'s share of every global batch of a sequential loader: indices
    ``[i * GLOBAL_BATCH + rank * b, i * GLOBAL_BATCH + (rank + 1) * b)`` for ``b = GLOBAL_BATCH / world``."""

    def __init__(self, n: int, rank: int, world: int) -> None:
        b = GLOBAL_BATCH // world
        self.indices = [i + rank * b + j for i in range(0, n, GLOBAL_BATCH) for j in range(b)]

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def spectral_d(batchnorm: bool = False) -> nn.Module:
    """Spectral-norm convs; ``batchnorm``: a BatchNorm after the second (the DCGAN family's D has them)."""
    sn = nn.utils.spectral_norm
    return nn.Sequential(sn(nn.Conv2d(1, 8, 3, padding=1)), nn.LeakyReLU(0.1), sn(nn.Conv2d(8, 8, 4, 2, 1)),
                         *([nn.BatchNorm2d(8)] if batchnorm else []), nn.LeakyReLU(0.1), nn.Flatten(), sn(nn.Linear(8 * 4 * 4, 1)))


class NormsInTraining(L.Callback):
    """The class names of G's and D's normalisation layers while training (Lightning reverts SyncBatchNorm after)."""

    def on_train_start(self, trainer, pl_module):
        self.names = sorted({type(m).__name__ for m in pl_module.modules() if "Norm" in type(m).__name__})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--num-nodes", type=int, default=1)
    parser.add_argument("--strategy", default="gan_ddp")
    parser.add_argument("--batchnorm", action="store_true", help="BatchNorm in G and D, with sync_batchnorm")
    args = parser.parse_args()
    torch.set_num_threads(1)
    L.seed_everything(0, verbose=False)
    # SGD: Adam would turn float-rounding differences of near-zero gradients into +-lr steps
    sgd = functools.partial(torch.optim.SGD, lr=0.05, momentum=0.5)
    model = GAN(TinyGenerator(args.batchnorm), spectral_d(args.batchnorm), loss="hinge", n_dis=N_DIS, optimizer_g=sgd, optimizer_d=sgd,
                max_iterations=ITERATIONS, perturbation=DAT(eps=1.0))
    processes = args.devices * args.num_nodes
    data = torch.linspace(-1, 1, GLOBAL_BATCH * N_DIS * ITERATIONS * 64).reshape(-1, 1, 8, 8).sin()
    loader = DataLoader(TensorDataset(data), batch_size=GLOBAL_BATCH // processes)
    strategy = "auto" if processes == 1 else args.strategy
    trainer = L.Trainer(accelerator="cpu", devices=args.devices, num_nodes=args.num_nodes, strategy=strategy,
                        sync_batchnorm=args.batchnorm and processes > 1, max_epochs=-1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=2,
                        default_root_dir=args.out, use_distributed_sampler=False, callbacks=[norms := NormsInTraining()])
    if processes > 1:  # rank r takes rows [r * b, (r + 1) * b) of every 1-process batch (Lightning's sampler would shuffle)
        loader = DataLoader(TensorDataset(data), batch_size=GLOBAL_BATCH // processes, sampler=RankRows(len(data), trainer.global_rank, processes))
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    trainer.fit(model, loader)
    args.out.mkdir(parents=True, exist_ok=True)
    state = {k: v for k, v in model.state_dict().items() if k.startswith(("generator.", "discriminator."))}
    torch.save(state, args.out / f"rank{trainer.global_rank}.pt")
    info = {"world_size": trainer.world_size, "generator_iterations": model.generator_iterations,
            "strategy": type(trainer.strategy).__name__, "norms": norms.names,
            "noise": torch.rand(2).tolist(), "logged": {k: float(v) for k, v in trainer.callback_metrics.items()},
            "moved": max((v - initial[k]).abs().max().item() for k, v in state.items() if v.is_floating_point())}
    (args.out / f"rank{trainer.global_rank}.json").write_text(json.dumps(info))


if __name__ == "__main__":
    main()
