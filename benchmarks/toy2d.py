"""Reproduce the DAT paper's Fig. 3 study: GAN vs GAN+DAT on the 2D mixtures of nine Gaussians.

Trains the library's ``Toy2DGAN`` (4-layer, 64-unit MLPs, ns loss) with and without DAT on the
balanced and imbalanced mixtures, several seeds each, and scores modes covered, the share of
high-quality samples and KL(true weights || mode histogram) at the given generator iterations.

    python -m benchmarks.toy2d                       # full: 5 seeds, 2k/3k/10k iterations
    python -m benchmarks.toy2d --quick               # 2 seeds, 500/1k/2k iterations (a few minutes)
    python -m benchmarks.toy2d --std 0.05 --json out.json

Writes ``toy2d_table.md``, ``toy2d_scatter.png`` (seed 0) and, with ``--json``, the raw numbers
as ``{mixture: {method: {iterations: {"modes": [...], "hq": [...], "kl": [...]}}}}``. Finished runs go to
``<out>/toy2d_cells.json`` at once; the same command again skips them (``--restart``: recompute).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch

from benchmarks.harness import OUT, FinishedCells, add_resume_options, mean_std, run_jobs, run_safely, save_figure, write_text

MIXTURES = ("balanced", "imbalanced")
METHODS = ("gan", "dat")


def train_one(job: dict) -> dict:
    """Train one (mixture, method, seed) run; never raises (a failure is reported)."""
    return run_safely(_train, job)


def _train(job: dict) -> dict:
    """The scores of one run and the first seed's samples at each checkpoint (as lists: the outcome is JSON)."""
    import lightning as L

    from datgan_lightning.adversarial import DAT
    from datgan_lightning.callbacks import MixtureMetrics
    from datgan_lightning.data import GaussianMixture2D
    from datgan_lightning.modules import Toy2DGAN

    L.seed_everything(job["seed"], verbose=False)
    iterations = job["iterations"]
    perturbation = (
        DAT(eps=job["eps"], steps=job["steps"], variant=job["variant"], data_range=None) if job["method"] == "dat" else None
    )
    model = Toy2DGAN(perturbation=perturbation, max_iterations=max(iterations), lr_g=job["lr"], lr_d=job["lr"])
    data = GaussianMixture2D(job["mixture"], std=job["std"], batch_size=job["batch_size"], seed=job["seed"])
    metrics = MixtureMetrics(every_n_iterations=10**9, num_samples=job["num_samples"], plot_at=iterations, seed=job["seed"])
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[metrics],
        default_root_dir=Path(job["out"]) / "runs" / f"{job['mixture']}_{job['method']}_seed{job['seed']}",
    )
    start = time.perf_counter()
    trainer.fit(model, data)
    seconds = time.perf_counter() - start
    scores = {r["generator_iterations"]: r for r in metrics.history}
    return {
        "scores": {str(i): {k: scores[i][k] for k in ("modes", "hq", "kl")} for i in iterations},
        "samples": {str(i): metrics.samples[i].tolist() for i in iterations} if job["seed"] == job["seeds"][0] else None,
        "seconds_per_iteration": seconds / max(iterations),
    }


def table(results: dict, iterations: list[int]) -> str:
    lines = ["| mixture | method | iterations | modes (of 9) | HQ share | KL |", "| --- | --- | --- | --- | --- | --- |"]
    for mixture in results:
        for method in results[mixture]:
            for it in iterations:
                r = results[mixture][method][str(it)]
                lines.append(
                    f"| {mixture} | {'GAN+DAT' if method == 'dat' else 'GAN'} | {it} | "
                    f"{mean_std(r['modes'], 1)} | {mean_std(r['hq'], 3)} | {mean_std(r['kl'], 3)} |"
                )
    return "\n".join(lines)


def scatter_grid(path: Path, samples: dict, iterations: list[int], std: float) -> None:
    from datgan_lightning.data import nine_gaussians
    from datgan_lightning.plots import figure, scatter_mixture

    rows = [(m, k) for m in MIXTURES for k in METHODS if (m, k) in samples]
    fig, axes = figure(len(rows), len(iterations), figsize=(2.2 * len(iterations), 2.2 * len(rows)), dpi=110)
    for r, (mixture, method) in enumerate(rows):
        means, _ = nine_gaussians(mixture)
        for c, it in enumerate(iterations):
            name = "GAN+DAT" if method == "dat" else "GAN"
            scatter_mixture(axes[r][c], torch.tensor(samples[(mixture, method)][str(it)]), means, std, f"{mixture} {name} {it}")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--iterations", type=int, nargs="+", default=[2000, 3000, 10000])
    parser.add_argument("--std", type=float, default=math.sqrt(0.1), help="mode std; sqrt(0.1) is the paper's 'variance 0.1'")
    parser.add_argument("--eps", type=float, default=1.0, help="DAT step scale")
    parser.add_argument("--steps", type=int, default=1, help="DAT steps")
    parser.add_argument("--variant", default="batch", choices=["batch", "sample"])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--num-samples", type=int, default=2500, help="generated samples per evaluation")
    parser.add_argument("--mixtures", nargs="+", default=list(MIXTURES), choices=MIXTURES)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--workers", type=int, default=2, help="parallel training processes (1: run in this process)")
    parser.add_argument("--out", type=Path, default=OUT / "toy2d")
    parser.add_argument("--json", type=Path, default=None, help="write the raw numbers here")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 500/1000/2000 iterations")
    add_resume_options(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.iterations = 2, [500, 1000, 2000]
    iterations = sorted(args.iterations)
    args.out.mkdir(parents=True, exist_ok=True)

    seeds = list(range(args.seeds))
    jobs = [
        {
            "mixture": m, "method": k, "seed": s, "seeds": seeds, "iterations": iterations, "std": args.std,
            "eps": args.eps, "steps": args.steps, "variant": args.variant, "lr": args.lr,
            "batch_size": args.batch_size, "num_samples": args.num_samples, "out": str(args.out),
        }
        for m in args.mixtures for k in args.methods for s in seeds
    ]
    start = time.perf_counter()
    runs = run_jobs(train_one, jobs, args.workers, start, _describe, FinishedCells(args.out / "toy2d_cells.json", restart=args.restart))
    failed = [run for run in runs if run["error"]]
    if failed:
        raise SystemExit("toy2d: " + "; ".join(f"{r['mixture']} {r['method']} seed {r['seed']} failed: {r['error']}" for r in failed))
    wall = time.perf_counter() - start

    results = {
        m: {k: {str(i): {"modes": [], "hq": [], "kl": []} for i in iterations} for k in args.methods} for m in args.mixtures
    }
    samples = {}
    for run in sorted(runs, key=lambda r: r["seed"]):
        for it, scores in run["scores"].items():
            for key, value in scores.items():
                results[run["mixture"]][run["method"]][it][key].append(value)
        if run["samples"] is not None:
            samples[(run["mixture"], run["method"])] = run["samples"]
    per_iteration = {k: statistics.mean(r["seconds_per_iteration"] for r in runs if r["method"] == k) for k in args.methods}

    settings = (
        f"std={args.std:.4g}, seeds={args.seeds}, DAT(eps={args.eps}, steps={args.steps}, variant={args.variant}), "
        f"lr={args.lr}, batch={args.batch_size}, {args.num_samples} samples per evaluation"
    )
    text = (
        f"{settings}\n\n{table(results, iterations)}\n\n"
        "time per generator iteration: "
        + ", ".join(f"{'GAN+DAT' if k == 'dat' else 'GAN'} {1e3 * v:.2f} ms" for k, v in per_iteration.items())
        + f" (1 thread per run); wall {wall:.0f} s\n"
    )
    print(text)
    write_text(args.out / "toy2d_table.md", text)
    scatter_grid(args.out / "toy2d_scatter.png", samples, iterations, args.std)
    print(f"table: {args.out / 'toy2d_table.md'}\nscatter grid: {args.out / 'toy2d_scatter.png'}")
    if args.json:
        write_text(args.json, json.dumps(results, indent=1))
        print(f"json: {args.json}")
    return results


def _describe(run: dict) -> str:
    last = run["scores"][max(run["scores"], key=int)] if run["scores"] else None
    status = f"modes {last['modes']} HQ {last['hq']:.3f} KL {last['kl']:.3f}" if last else f"FAILED {run['error']}"
    return f"{run['mixture']} / {run['method']} / seed {run['seed']}: {status}"


if __name__ == "__main__":
    main()
