"""Rob-GAN's Table 1 at CPU size on the offline CIFAR-10 subset: accuracy under L-inf PGD of one classifier
network trained three ways with the same budget, and the split loss against the AC-GAN loss.

    python -m benchmarks.robgan --quick --seeds 3 --jobs 2 --json benchmarks/out/robgan/quick.json   # under 10 minutes
    python -m benchmarks.robgan --seeds 3 --jobs 2 --json benchmarks/out/robgan/robgan.json          # the configs' lengths

The classifier is the class head on the features of the AC-GAN discriminator of
``configs/robgan/cifar10_subset_cpu.yaml`` (SN-GAN's 32 px ResNet D without spectral norm, ndf 16). Each
row trains it from the configs (``datgan fit`` arguments, seed s: ``--seed_everything s``, data order s):

* (a) ``clean``: ``cifar10_subset_cpu_clean.yaml``, from fresh weights on clean real images;
* (b) ``madry``: ``cifar10_subset_cpu_madry.yaml``, from fresh weights on real images attacked by the
  co-training PGD (5 sign steps of 0.0078 in the L-inf ball 0.03125, no random start): Madry's training;
* (c) ``robgan``: co-training ``cifar10_subset_cpu.yaml`` (split loss) for ``K`` generator iterations, then
  fine-tuning ``cifar10_subset_cpu_finetune.yaml`` (lam 0.5) for ``F`` steps.

**Budget** (the same for all rows): ``U = 5 K + F`` classifier updates on batches of 32 real images, i.e.
``32 U`` real images seen: (c) makes ``n_dis`` 5 D updates per co-training iteration and one per
fine-tuning step; (a) and (b) make ``U`` steps (their ``max_iterations``). Rob-GAN additionally sees
generated images (its point) and trains G, so it costs more: CPU seconds per job are reported. Defaults:
``K`` 60, ``F`` 150 (the configs: ``U`` 450); ``--quick`` 15 and 45 (``U`` 120).

**Accuracy under attack** (:func:`~datgan_lightning.metrics.robustness.accuracy_under_attack`): untargeted
L-inf PGD on the cross-entropy, 20 sign steps of eps / 5, at eps 0 (clean), 0.02, 0.04, 0.08 (the paper's
CIFAR-10 row; images in [-1, 1]), on the first ``--eval-samples`` held-out test images (all 846 by default,
200 with ``--quick``); mean ± std over seeds, and (c) − (b) seed by seed.

**Split vs AC-GAN loss**: a second co-training with ``class_loss: acgan`` (same seed, same ``K``). For each
G, ``--per-class`` samples of every class (the same latents for both) are embedded by a fixed CIFAR-10
domain classifier (trained on the 4660 training images, cached as in ``benchmarks.ablation``): *within-class
diversity* is the mean pairwise L2 distance of the features of one class's samples, averaged over the
classes (higher: more diverse; real test images give the reference); *class agreement* is the share of
samples that the fixed classifier puts in the class they were drawn for. Seed 0's samples (8 per class,
one row per class) are saved side by side with real test images as ``--grid`` (PNG).

Jobs (one per row and seed) run in ``--jobs`` spawned processes with one thread each. ``--json`` writes
``{"budget", "accuracy": {row: {eps: [per seed]}}, "diversity": {G: {metric: [per seed]}}, "seconds", ...}``;
the markdown tables go to ``<out>/<json stem>_table.md``. The grid is resumable as ``benchmarks.ablation``'s:
finished jobs in ``<out>/<json stem>_cells.json``, skipped by a rerun of the same command (``--restart``: recompute).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from pathlib import Path

import torch

from benchmarks.harness import CONFIGS as ALL_CONFIGS
from benchmarks.harness import (
    DEFAULT_DATA,
    OUT,
    REPO,
    FinishedCells,
    add_resume_options,
    count,
    differences,
    figure,
    fit_from_configs,
    mean_std,
    prepare_classifier,
    preset,
    quiet_trainer,
    require_data,
    run_jobs,
    run_safely,
    save_figure,
    write_outputs,
)

CONFIGS = ALL_CONFIGS / "robgan"
EPS = (0.0, 0.02, 0.04, 0.08)
ROWS = {"clean": "(a) clean training", "madry": "(b) Madry adversarial training (reals)",
        "robgan": "(c) Rob-GAN co-training + fine-tuning"}
GENERATORS = {"split": "split loss (Rob-GAN)", "acgan": "AC-GAN loss"}
N_DIS, GRID_COLUMNS = 5, 8


# ------------------------------------------------------------------------------------------- one job
def fit_arguments(config: str, job: dict, run_dir: Path, *overrides: str) -> list[str]:
    """``datgan fit`` arguments (without the verb): a config of ``configs/robgan``, the job's seed, data and sizes, a quiet trainer."""
    return [
        "--config", str(CONFIGS / config), *overrides, *job["net"],
        f"--seed_everything={job['seed']}", f"--data.init_args.path={job['data']}", f"--data.init_args.seed={job['seed']}",
        f"--data.init_args.batch_size={job['batch_size']}", *quiet_trainer(run_dir),
    ]


def fit(arguments: list[str]):
    """``datgan fit`` of one row's stage, checked to have trained its ``max_iterations`` (a test counts the updates here)."""
    return fit_from_configs(arguments)


def run_job(job: dict) -> dict:
    """Train and score one (row, seed); never raises (a failed job is reported, the others still count)."""
    return run_safely(lambda job: {"scores": _train_and_score(job)}, job, {"scores": {}})


def _train_and_score(job: dict) -> dict:
    from datgan_lightning.metrics.robustness import accuracy_under_attack

    run_dir = Path(job["out"]) / "runs" / job["row"] / f"seed{job['seed']}"
    if job["row"] in ("clean", "madry"):
        cli = fit(fit_arguments(f"cifar10_subset_cpu_{job['row']}.yaml", job, run_dir, f"--model.init_args.max_iterations={job['budget']}"))
    else:
        class_loss = "acgan" if job["row"] == "acgan" else "split"
        cli = fit(fit_arguments("cifar10_subset_cpu.yaml", job, run_dir, f"--model.init_args.class_loss={class_loss}",
                                f"--model.init_args.max_iterations={job['cotrain']}"))
        scores = generator_scores(cli.model, job)
        if job["row"] == "acgan":
            return scores
        run_dir.mkdir(parents=True, exist_ok=True)
        cli.trainer.save_checkpoint(run_dir / "cotrained.ckpt")
        cli = fit(fit_arguments("cifar10_subset_cpu_finetune.yaml", job, run_dir / "finetune",
                                f"--model.init_args.checkpoint={run_dir / 'cotrained.ckpt'}", f"--model.init_args.max_iterations={job['finetune']}"))
    x, y = cli.datamodule.test_dataset.tensors[:2]
    x, y = x[: job["eval_samples"]], y[: job["eval_samples"]]
    batches = [(x[i : i + 100], y[i : i + 100]) for i in range(0, len(x), 100)]
    accuracy = accuracy_under_attack(cli.model.discriminator.cpu(), batches, EPS, steps=20)
    return {"accuracy": {str(eps): acc for eps, acc in accuracy.items()}, **(scores if job["row"] == "robgan" else {})}


# ------------------------------------------------------------------------------ split vs AC-GAN loss
def class_samples(model, per_class: int, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` samples of each class, class-major, from fixed latents (the same for every G of this size)."""
    z = torch.randn(per_class * num_classes, model.generator.latent_dim, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    return model.cpu().sample(z=z, labels=labels), labels


def diversity(extractor, images: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Within-class diversity (mean pairwise L2 distance of the fixed classifier's features, averaged over
    classes) and class agreement (share classified as the class they were drawn for) of images in [-1, 1]."""
    pixels = ((images + 1) * 127.5).round().clamp(0, 255)
    with torch.no_grad():
        features, logits = extractor.extract(pixels)
    classes = [c for c in labels.unique() if (labels == c).sum() > 1]  # a distance needs two samples
    spread = [torch.pdist(features[labels == c]).mean() for c in classes]
    return {"within_class_distance": float(torch.stack(spread).mean()), "class_agreement": float((logits.argmax(1) == labels).float().mean())}


def generator_scores(model, job: dict) -> dict:
    from torchvision.utils import make_grid

    from datgan_lightning.metrics import DomainClassifierFeatures

    samples, labels = class_samples(model, job["per_class"], model.generator.num_classes)
    scores = {"diversity": diversity(DomainClassifierFeatures(job["classifier"]), samples, labels)}
    if job["seed"] == 0:
        first = torch.cat([samples[labels == c][:GRID_COLUMNS] for c in labels.unique()])
        scores["grid"] = make_grid(first, nrow=GRID_COLUMNS, normalize=True, value_range=(-1, 1)).tolist()
    return scores


def real_reference(data: Path, per_class: int, classifier: str) -> tuple[dict[str, float], torch.Tensor]:
    """The diversity of ``per_class`` held-out images of each class, and the first 8 per class as a grid."""
    from torchvision.utils import make_grid

    from datgan_lightning.data import NpzImages
    from datgan_lightning.metrics import DomainClassifierFeatures

    datamodule = NpzImages(str(data))
    datamodule.setup("fit")
    x, y = datamodule.test_dataset.tensors[:2]
    keep = torch.cat([torch.nonzero(y == c).flatten()[:per_class] for c in y.unique()])
    grid = make_grid(torch.cat([x[y == c][:GRID_COLUMNS] for c in y.unique()]), nrow=GRID_COLUMNS, normalize=True, value_range=(-1, 1))
    return diversity(DomainClassifierFeatures(classifier), x[keep], y[keep]), grid


def save_grids(grids: dict[str, torch.Tensor], path: Path, title: str) -> None:
    fig = figure(figsize=(4 * len(grids), 4.6))
    axes = fig.subplots(1, len(grids), squeeze=False)
    for ax, (name, grid) in zip(axes[0], grids.items()):
        ax.imshow(grid.permute(1, 2, 0).numpy())
        ax.set_title(name, fontsize=10)
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)


# ------------------------------------------------------------------------------------------ reporting
def accuracy_markdown(accuracy: dict) -> str:
    lines = ["| classifier | " + " | ".join(f"ε={e:g}" for e in EPS) + " |", "| --- |" + " --- |" * len(EPS)]
    for row, name in ROWS.items():
        if row in accuracy:
            lines.append(f"| {name} | " + " | ".join(mean_std([100 * a for a in accuracy[row][str(e)]], 1) for e in EPS) + " |")
    if "robgan" in accuracy and "madry" in accuracy:
        cells = []
        for e in EPS:
            diffs = [100 * d for d in differences(accuracy["robgan"][str(e)], accuracy["madry"][str(e)])]
            cells.append(f"{mean_std(diffs, 1)} ({sum(d > 0 for d in diffs)}/{len(diffs)} seeds higher)" if diffs else "n/a")
        lines.append("| (c) − (b), same seed, points | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def diversity_markdown(div: dict) -> str:
    lines = ["| samples | within-class feature distance | class agreement (fixed classifier) |", "| --- | --- | --- |"]
    for key, name in {**GENERATORS, "real": "real test images (reference)"}.items():
        if key in div:
            lines.append(f"| {name} | {mean_std(div[key]['within_class_distance'], 2)} | {mean_std(div[key]['class_agreement'], 3)} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ main
def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=count, default=3, help="seeds 0..N-1 (default 3)")
    parser.add_argument("--jobs", type=count, default=2, help="parallel processes, one thread each (default 2)")
    parser.add_argument("--cotrain", type=count, default=None, help="co-training iterations K (default 60; quick 15)")
    parser.add_argument("--finetune", type=count, default=None, help="fine-tuning steps F (default 150; quick 45)")
    parser.add_argument("--eval-samples", type=count, default=None, help="held-out images for the accuracy (default 846: all; quick 200)")
    parser.add_argument("--per-class", type=int, default=None, help="samples per class for the diversity (default 64; quick 32)")
    parser.add_argument("--quick", action="store_true", help="K 15, F 45, 200 test images: under 10 minutes on 2 cores")
    parser.add_argument("--smoke", action="store_true", help="tests only: K 1, F 2, tiny nets (ngf 2, ndf 2) and batches, 4 test images")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the labelled .npz (default ../shared/data/cifar10_subset.npz)")
    parser.add_argument("--out", type=Path, default=OUT / "robgan", help="where the outputs and the runs go (default benchmarks/out/robgan)")
    parser.add_argument("--classifier-dir", type=Path, default=OUT / "ablation",
                        help="cache of the fixed domain classifier (shared with benchmarks.ablation)")
    parser.add_argument("--json", type=Path, default=None, help="results JSON (default <out>/robgan.json)")
    parser.add_argument("--grid", type=Path, default=None, help="sample grids PNG (default benchmarks/results/robgan_split_vs_acgan[_quick].png)")
    add_resume_options(parser)
    args = parser.parse_args(argv)
    if args.per_class is not None and args.per_class < 2:
        parser.error(f"--per-class={args.per_class} is too small: a within-class distance needs >= 2 samples per class")
    args.data = require_data(parser, args.data)
    pick = functools.partial(preset, args)
    args.cotrain = args.cotrain or pick(60, 15, 1)
    args.finetune = args.finetune or pick(150, 45, 2)
    args.eval_samples = args.eval_samples or pick(846, 200, 4)
    args.per_class = args.per_class or pick(64, 32, 2)
    args.json = args.json or args.out / "robgan.json"
    args.grid = args.grid or REPO / "benchmarks" / "results" / f"robgan_split_vs_acgan{pick('', '_quick', '_smoke')}.png"
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    classifier, extractor_name, held_out = prepare_classifier(args.data, args.classifier_dir, 1 if args.smoke else 10, 1)
    real_div, real_grid = real_reference(args.data, args.per_class, str(classifier))
    budget = N_DIS * args.cotrain + args.finetune
    common = {"data": str(args.data), "out": str(args.out), "classifier": str(classifier), "cotrain": args.cotrain,
              "finetune": args.finetune, "budget": budget, "eval_samples": args.eval_samples, "per_class": args.per_class,
              "batch_size": 4 if args.smoke else 32, "net": ["--model.init_args.ngf=2", "--model.init_args.ndf=2"] if args.smoke else []}
    jobs = [{**common, "row": row, "seed": seed} for seed in range(args.seeds) for row in ("robgan", "madry", "acgan", "clean")]
    print(f"{len(jobs)} jobs in {args.jobs} process(es); budget {budget} classifier updates of batch {common['batch_size']} "
          f"(co-training {args.cotrain} x {N_DIS} + fine-tuning {args.finetune})", flush=True)
    journal = FinishedCells(args.json.with_name(f"{args.json.stem}_cells.json"), restart=args.restart)
    runs = run_jobs(run_job, jobs, args.jobs, start, _describe, journal)
    runs.sort(key=lambda r: r["seed"])
    ok = [r for r in runs if r["error"] is None]
    accuracy = {row: {str(e): [r["scores"]["accuracy"][str(e)] for r in ok if r["row"] == row] for e in EPS} for row in ROWS}
    div = {g: {m: [r["scores"]["diversity"][m] for r in ok if r["row"] == ("robgan" if g == "split" else "acgan")]
               for m in real_div} for g in GENERATORS}
    div["real"] = {m: [v] for m, v in real_div.items()}
    seconds = {row: [r["seconds"] for r in runs if r["row"] == row] for row in ("robgan", "madry", "acgan", "clean")}
    cpu_seconds = {row: [r["cpu_seconds"] for r in runs if r["row"] == row] for row in seconds}
    wall = time.perf_counter() - start

    grids = {GENERATORS[g]: torch.tensor(r["scores"]["grid"]) for g in GENERATORS for r in ok
             if r["seed"] == 0 and r["row"] == ("robgan" if g == "split" else "acgan")}
    grids["real test images"] = real_grid
    save_grids(grids, args.grid, f"Rob-GAN CPU config, {args.cotrain} co-training iterations, seed 0: one row per class (airplane .. truck)")
    header = (f"Rob-GAN Table 1 at CPU size: the AC-GAN D's classifier of configs/robgan/cifar10_subset_cpu.yaml, CIFAR-10 subset; "
              f"budget {budget} classifier updates of batch {common['batch_size']} real images for every row (co-training {args.cotrain} "
              f"iterations x n_dis {N_DIS} + fine-tuning {args.finetune}); accuracy under 20-step L-inf PGD (step eps/5) on "
              f"{args.eval_samples} held-out test images; seeds 0-{args.seeds - 1}, mean ± std; wall {wall / 60:.1f} min with "
              f"{args.jobs} process(es); CPU seconds per job: " + ", ".join(f"{k} {statistics.fmean(v):.0f}" for k, v in cpu_seconds.items() if v)
              + f", {sum(map(sum, cpu_seconds.values())) / 60:.1f} CPU min in all")
    div_header = (f"Split vs AC-GAN loss after {args.cotrain} co-training iterations: {args.per_class} samples per class, "
                  f"features of the fixed domain classifier {extractor_name} (held-out accuracy {held_out:.3f})")
    text = f"{header}\n\n{accuracy_markdown(accuracy)}\n\n{div_header}\n\n{diversity_markdown(div)}\n"
    print(text, flush=True)
    for r in runs:
        if r["error"]:
            print(f"FAILED {r['row']} seed {r['seed']}: {r['error']}")
    results = {"budget": {"classifier_updates": budget, "batch_size": common["batch_size"], "cotrain_iterations": args.cotrain,
                          "n_dis": N_DIS, "finetune_steps": args.finetune},
               "eval_samples": args.eval_samples, "seeds": args.seeds, "accuracy": accuracy, "diversity": div,
               "seconds": seconds, "cpu_seconds": cpu_seconds, "wall_seconds": wall, "failed": [f"{r['row']} seed {r['seed']}: {r['error']}" for r in runs if r["error"]]}
    table_path = write_outputs(args.out, args.json, results, text)
    print(f"json: {args.json}\ntable: {table_path}\ngrids: {args.grid}\nwall: {wall / 60:.1f} min")
    return results


def _describe(run: dict) -> str:
    s = run["scores"]
    status = run["error"] or " ".join(f"{k}={v:.2f}" for k, v in {**s.get("accuracy", {}), **s.get("diversity", {})}.items())
    return f"{run['row']} seed {run['seed']} ({run['seconds']:.0f} s, {run['cpu_seconds']:.0f} CPU s): {status}"


if __name__ == "__main__":
    main()
