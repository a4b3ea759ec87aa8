"""Clean exit of data-parallel runs: N short 2-process ``gan_ddp`` fits (gloo, one thread each) must all exit
0, and a fit that fails on every rank must exit 1 with its one sentence, never 134 (``terminate called
without an active exception``: gloo aborting a process that exits with its process group alive, which a
cluster scheduler reports as a failed job; before ``gan_ddp`` destroyed the group, about 1 run in 10).

    python benchmarks/clean_exit.py                # 10 fits, 2 at a time, plus one failing fit
    python benchmarks/clean_exit.py --runs 2       # what the test suite runs

Each fit: a tiny GAN with DAT on 2D points, 2 processes, 2 generator iterations, a checkpoint written,
then ``trainer.validate`` on the same Trainer (the process group is made again after fit destroyed it).
Prints one line per run and a summary; exits 1 if any run ended otherwise than expected.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def worker(out: Path, fail: bool) -> None:
    """One 2-process fit (Lightning starts the second process); ``fail``: a discriminator with BatchNorm
    and DAT without sync_batchnorm, which gan_ddp refuses on every rank once the group is up."""
    import lightning as L
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    import datgan_lightning  # noqa: F401  (registers gan_ddp)
    from datgan_lightning.adversarial import DAT
    from datgan_lightning.modules import GAN
    from datgan_lightning.nets.base import Generator

    class Points(Generator):
        def __init__(self) -> None:
            super().__init__(2)
            self.net = nn.Linear(2, 2)

        def forward(self, z):
            return self.net(z)

    torch.set_num_threads(1)
    L.seed_everything(0, verbose=False)
    discriminator = nn.Sequential(nn.Linear(2, 8), *([nn.BatchNorm1d(8)] if fail else []), nn.ReLU(), nn.Linear(8, 1))
    model = GAN(Points(), discriminator, n_dis=1, max_iterations=2, perturbation=DAT(eps=0.1, data_range=None))
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="gan_ddp", max_epochs=-1, logger=False, default_root_dir=out,
                        enable_progress_bar=False, enable_model_summary=False)
    data = DataLoader(TensorDataset(torch.randn(64, 2)), batch_size=4)
    trainer.fit(model, data)
    trainer.validate(model, data, verbose=False)  # a second entry point after the group was destroyed: it is made again


def main(argv: list[str] | None = None) -> dict[str, list[int]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="successful fits to run (default 10)")
    parser.add_argument("--parallel", type=int, default=2, help="fits at a time (default 2)")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--fail", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.fail)
        return {}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    jobs = [False] * args.runs + [True]
    codes: dict[str, list[int]] = {"fit": [], "failing fit": []}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for first in range(0, len(jobs), args.parallel):
            running = []
            for index, fail in enumerate(jobs[first : first + args.parallel], first):
                command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(Path(tmp) / str(index)), *(["--fail"] if fail else [])]
                running.append((fail, subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
            for fail, process in running:
                _, stderr = process.communicate(timeout=args.timeout)
                name = "failing fit" if fail else "fit"
                codes[name].append(process.returncode)
                aborted = "terminate called" in stderr
                print(f"  {name} {len(codes[name])}: exit {process.returncode}{' (gloo abort)' if aborted else ''}", flush=True)
                if process.returncode != (1 if fail else 0) or aborted:
                    print(stderr[-2000:], file=sys.stderr)
    ok = all(code == 0 for code in codes["fit"]) and all(code == 1 for code in codes["failing fit"])
    print(f"{codes['fit'].count(0)}/{len(codes['fit'])} fits exited 0, the failing fit exited {codes['failing fit']} "
          f"in {time.perf_counter() - started:.0f} s: {'clean' if ok else 'NOT clean'}")
    if not ok and argv is None:
        sys.exit(1)
    return codes


if __name__ == "__main__":
    main()
