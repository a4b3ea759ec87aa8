"""DCGAN with and without DAT on the offline MNIST test split (10k images): time per generator
iteration and sample grids, trained from the library's CPU configs.

    python -m benchmarks.mnist_dcgan                  # configs/cpu/dcgan_mnist{,_dat}.yaml as written (2000 iterations)
    python -m benchmarks.mnist_dcgan --quick          # 200 iterations each
    python -m benchmarks.mnist_dcgan --iterations 3000 --json out.json

Runs both methods one after the other in this process (same threads, same data), from
``configs/cpu/dcgan_mnist.yaml`` and ``configs/cpu/dcgan_mnist_dat.yaml`` through the ``datgan`` CLI.
Writes ``mnist_dcgan_table.md``, ``samples_{gan,dat}.png`` (64 fixed-noise samples of the EMA
generator) under ``--out``, and with ``--json`` ``{method: {"iterations", "seconds_per_iteration",
"spread", "total_seconds"}}``. Needs ``../shared/data/mnist`` (or ``--mnist-root``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torchvision.utils import save_image

from benchmarks.harness import CONFIGS as ALL_CONFIGS
from benchmarks.harness import OUT, REPO, write_text
from datgan_lightning.callbacks import IterationTimer
from datgan_lightning.cli import create_cli
from datgan_lightning.utils import write_atomically

CONFIGS = {"gan": ALL_CONFIGS / "cpu" / "dcgan_mnist.yaml", "dat": ALL_CONFIGS / "cpu" / "dcgan_mnist_dat.yaml"}


def run(method: str, iterations: int, out: Path, mnist_root: str, threads: int) -> dict:
    torch.set_num_threads(threads)
    timer = IterationTimer()
    cli = create_cli(["--config", str(CONFIGS[method]), f"--model.init_args.max_iterations={iterations}",
                      f"--data.init_args.root={mnist_root}", "--trainer.enable_progress_bar=false",
                      f"--trainer.logger.init_args.save_dir={out / 'runs'}", f"--trainer.logger.init_args.name={method}"],
                     run=False)
    cli.trainer.callbacks.append(timer)
    start = time.perf_counter()
    cli.trainer.fit(cli.model, cli.datamodule)
    total = time.perf_counter() - start
    z = torch.randn(64, cli.model.generator.latent_dim, generator=torch.Generator().manual_seed(0))
    samples = cli.model.sample(z=z)
    write_atomically(out / f"samples_{method}.png", lambda tmp: save_image(samples, tmp, nrow=8, normalize=True, value_range=(-1, 1), format="png"))
    times = timer.summary()
    return {"iterations": iterations, "seconds_per_iteration": times["median"], "spread": [times["q1"], times["q3"]], "total_seconds": total}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=None, help="generator iterations per method (default: the configs' 2000)")
    parser.add_argument("--quick", action="store_true", help="200 iterations per method")
    parser.add_argument("--mnist-root", default=str(REPO.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", type=Path, default=OUT / "mnist_dcgan")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    iterations = args.iterations or (200 if args.quick else 2000)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {method: run(method, iterations, args.out, args.mnist_root, args.threads) for method in CONFIGS}
    ratio = results["dat"]["seconds_per_iteration"] / results["gan"]["seconds_per_iteration"]
    rows = ["| method | iterations | ms / iteration (median) | IQR (ms) | total (s) |", "|---|---|---|---|---|"]
    for method, r in results.items():
        rows.append(f"| {method} | {r['iterations']} | {1000 * r['seconds_per_iteration']:.1f} | "
                    f"{1000 * r['spread'][0]:.1f}-{1000 * r['spread'][1]:.1f} | {r['total_seconds']:.0f} |")
    rows.append(f"\nDAT / GAN time per iteration: {ratio:.2f} ({args.threads} threads)")
    table = "\n".join(rows)
    write_text(args.out / "mnist_dcgan_table.md", table + "\n")
    print(table)
    print(f"samples: {args.out / 'samples_gan.png'}, {args.out / 'samples_dat.png'}")
    if args.json:
        write_text(args.json, json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
