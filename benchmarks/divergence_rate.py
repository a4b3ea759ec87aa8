"""Issue 27, study 3: the DAT paper's Fig. 4 as a rate. How often does DCGAN break at a large learning rate,
with and without DAT, over many seeds?

    python -m benchmarks.divergence_rate --calibrate             # the sample variant's eps for DCGAN
    python -m benchmarks.divergence_rate                         # the grid (resumable: rerun the same command)
    python -m benchmarks.divergence_rate --quick --data tiny.npz --out /tmp/q   # seconds: what the test runs

DCGAN (``datgan_lightning.modules.DCGAN``: ``ns`` loss, Adam β = (0.5, 0.999) at the row's LR for G and D,
no LR decay, n_dis 1) at ``--width`` on the CIFAR-10 subset, ``--iterations`` generator
iterations (``--batch-size`` 32), one thread. Methods: ``gan``; ``dat`` (authors': batch variant, ε = 1, one step); ``dat_sample``
(Algorithm 1 at ``--eps-sample``, calibrated with ``--calibrate`` to the mean step of ``dat`` at
iteration 0); ``r1`` (R1, weight 5 = γ/2 with γ = 10, the established stabilizer).

**What counts as broken, fixed before running** (:func:`is_broken`): FID is the domain-classifier FID
(``benchmarks/ablation.py``'s classifier) of ``--num-fake`` samples against the training images, measured
at 25, 50, 75 and 100 % of the run. A run is broken if

1. its final FID is more than ``BREAK_FACTOR`` = 2 times the best FID it reached (it learned, then
   diverged), or
2. its final FID is more than ``NOISE_FACTOR`` = 0.5 times the FID of an untrained generator (the mean over
   seeds 0-2 of the same net at initialisation: it never learned or fell back to noise), or
3. a score is not finite (training produced NaN).

Each method's rate comes with a 95 % Wilson interval, and Fisher's exact test (two-sided) against ``gan``
at the same LR. Outputs: ``<out>/divergence_rate_cells.json`` (each finished run added at once, atomically;
a rerun skips those), ``<out>/divergence_rate_table.md`` and ``<out>/divergence_rate.png``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from benchmarks.harness import DEFAULT_DATA, FinishedCells, count, file_digest, prepare_classifier, run_jobs, run_safely

METHODS = ("gan", "dat", "dat_sample", "r1")
LRS = (0.002, 0.005)
BREAK_FACTOR = 2.0
NOISE_FACTOR = 0.5
FID_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
Z_95 = 1.959963984540054


# ----------------------------------------------------------------------------------------- statistics
def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95 % by default); ``(0, 1)`` when ``n`` is 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test of the 2x2 table ``[[a, b], [c, d]]``: the sum of the
    hypergeometric probabilities (fixed margins) of every table no more probable than the observed one."""
    row1, col1, n = a + b, a + c, a + b + c + d

    def probability(x: int) -> float:
        return math.comb(col1, x) * math.comb(n - col1, row1 - x) / math.comb(n, row1)

    observed = probability(a)
    support = range(max(0, row1 + col1 - n), min(row1, col1) + 1)
    return min(1.0, sum(p for p in map(probability, support) if p <= observed * (1 + 1e-7)))


def is_broken(fids: list[float | None], untrained_fid: float) -> tuple[bool, str]:
    """The rule of the module docstring on a run's FIDs (in order, the last one final); returns the verdict
    and the reason."""
    if not fids or any(f is None or not math.isfinite(f) for f in fids):
        return True, "non-finite"
    final, best = fids[-1], min(fids)
    if final > BREAK_FACTOR * best:
        return True, f"final {final:.1f} > {BREAK_FACTOR:g} x best {best:.1f}"
    if final > NOISE_FACTOR * untrained_fid:
        return True, f"final {final:.1f} > {NOISE_FACTOR:g} x untrained {untrained_fid:.1f}"
    return False, ""


# ------------------------------------------------------------------------------------------ one run
def make_module(method: str, lr: float, width: int, iterations: int, eps_sample: float) -> Any:
    from datgan_lightning.adversarial import DAT
    from datgan_lightning.modules import DCGAN
    from datgan_lightning.regularizers import R1

    extra: dict[str, Any] = {
        "gan": {}, "dat": {"perturbation": DAT(eps=1.0)}, "dat_sample": {"perturbation": DAT(eps=eps_sample, variant="sample")},
        "r1": {"regularizers": [R1()]},
    }[method]
    return DCGAN(ngf=width, ndf=width, lr_g=lr, lr_d=lr, max_iterations=iterations, **extra)


def _quality(job: dict[str, Any]) -> Any:
    from datgan_lightning.metrics import DomainClassifierFeatures, ImageQuality

    return ImageQuality(DomainClassifierFeatures(job["classifier"]), num_fake={"train": job["num_fake"]}, batch_size=250,
                        cache_dir=job["cache_dir"])


def _fid(quality: Any, generator: Any, dataset: Any, data_key: str) -> float | None:
    try:
        with torch.random.fork_rng():
            value = quality(generator, {"train": dataset}, data_key=data_key)[f"fid/train/{quality.extractor.name}"]
    except (RuntimeError, ValueError):  # NaN samples make the covariance square root fail
        return None
    return value if math.isfinite(value) else None


def run_cell(job: dict[str, Any]) -> dict[str, Any]:
    """Train one (lr, method, seed) run, scoring FID at the fixed fractions; never raises."""
    return run_safely(_train, job, on_failure={"fids": []})


def _train(job: dict[str, Any]) -> dict[str, Any]:
    import lightning.pytorch as pl

    from datgan_lightning.data import NpzImages

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    pl.seed_everything(job["seed"], verbose=False)
    module = make_module(job["method"], job["lr"], job["width"], job["iterations"], job["eps_sample"])
    data = NpzImages(job["data"], batch_size=job["batch_size"], seed=job["seed"])
    data.setup("fit")
    quality = _quality(job)
    at = {max(1, round(f * job["iterations"])) for f in FID_FRACTIONS}
    fids: list[float | None] = []

    class FidAtFractions(pl.Callback):
        def on_train_batch_end(self, trainer: Any, m: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            if m.discriminator_steps % m.n_dis == 0 and m.generator_iterations in at and len(fids) < len(at):
                fids.append(_fid(quality, m.sampling_generator, data.train_dataset, job["data_key"]))

    trainer = pl.Trainer(accelerator="cpu", max_epochs=-1, logger=False, callbacks=[FidAtFractions()], enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, data)
    return {"fids": fids}


def untrained_fid(args: argparse.Namespace, job: dict[str, Any]) -> float:
    """Mean FID of the untrained generator over seeds 0-2 (the reference of rule 2)."""
    from datgan_lightning.data import NpzImages

    torch.set_num_threads(1)
    data = NpzImages(str(args.data), batch_size=32)
    data.setup("fit")
    quality, values = _quality(job), []
    for seed in range(3):
        torch.manual_seed(seed)
        module = make_module("gan", LRS[0], args.width, args.iterations, args.eps_sample)
        values.append(_fid(quality, module.sampling_generator, data.train_dataset, job["data_key"]))
    return statistics.fmean(v for v in values if v is not None)


# ------------------------------------------------------------------------------------------ report
def rates(cells: list[dict[str, Any]], reference_fid: float) -> dict[tuple[float, str], dict[str, Any]]:
    """Per (lr, method): broken count, runs, Wilson interval, Fisher p against gan at the same lr."""
    table: dict[tuple[float, str], dict[str, Any]] = {}
    for cell in cells:
        if cell["error"]:
            continue
        entry = table.setdefault((cell["lr"], cell["method"]), {"broken": 0, "runs": 0, "final": [], "reasons": []})
        broken, reason = is_broken(cell["fids"], reference_fid)
        entry["broken"] += broken
        entry["runs"] += 1
        entry["final"].append(cell["fids"][-1] if cell["fids"] else None)
        if broken:
            entry["reasons"].append(f"seed {cell['seed']}: {reason}")
    for (lr, method), entry in table.items():
        entry["interval"] = wilson_interval(entry["broken"], entry["runs"])
        gan = table.get((lr, "gan"))
        entry["fisher_p"] = None if gan is None or method == "gan" else fisher_exact(
            entry["broken"], entry["runs"] - entry["broken"], gan["broken"], gan["runs"] - gan["broken"])
    return table


def markdown(table: dict[tuple[float, str], dict[str, Any]], methods: list[str], lrs: list[float]) -> str:
    lines = ["| lr | method | broken / runs | rate | 95 % Wilson interval | Fisher p vs gan | median final FID | broken runs |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for lr in lrs:
        for method in methods:
            e = table.get((lr, method))
            if e is None:
                continue
            finals = [f for f in e["final"] if f is not None]
            p = "" if e["fisher_p"] is None else f"{e['fisher_p']:.3f}"
            median = f"{statistics.median(finals):.1f}" if finals else "n/a"
            lines.append(f"| {lr:g} | {method} | {e['broken']} / {e['runs']} | {e['broken'] / e['runs']:.2f} | "
                         f"[{e['interval'][0]:.2f}, {e['interval'][1]:.2f}] | {p} | {median} | {'; '.join(e['reasons'])} |")
    return "\n".join(lines)


def save_plot(table: dict[tuple[float, str], dict[str, Any]], methods: list[str], lrs: list[float], path: Path) -> None:
    """Broken share per method at each LR with its 95 % Wilson interval."""
    from matplotlib.figure import Figure

    from datgan_lightning.utils import write_atomically

    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    width = 0.8 / len(methods)
    for k, method in enumerate(methods):
        xs, ys, lo, hi = [], [], [], []
        for i, lr in enumerate(lrs):
            e = table.get((lr, method))
            if e is None:
                continue
            rate = e["broken"] / e["runs"]
            xs.append(i + (k - (len(methods) - 1) / 2) * width)
            ys.append(rate)
            lo.append(rate - e["interval"][0])
            hi.append(e["interval"][1] - rate)
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=method)
    ax.set_xticks(range(len(lrs)), [f"lr {lr:g}" for lr in lrs])
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of runs broken (95 % Wilson)")
    ax.set_title("DCGAN on the CIFAR-10 subset: Fig. 4 as a rate", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=80, format="png"))


# -------------------------------------------------------------------------------------------- main
def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--lrs", nargs="+", type=float, default=list(LRS))
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 per cell (default 10)")
    parser.add_argument("--jobs", type=count, default=1, help="parallel processes, one thread each (default 1)")
    parser.add_argument("--iterations", type=int, default=500, help="generator iterations per run (default 500, as RESULTS' Fig. 4)")
    parser.add_argument("--width", type=int, default=32, help="DCGAN ngf = ndf (default 32, as configs/cpu/dcgan_cifar10_subset.yaml)")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch (default 32, as the CPU configs)")
    parser.add_argument("--eps-sample", type=float, default=0.05, help="eps of dat_sample (from --calibrate)")
    parser.add_argument("--num-fake", type=int, default=500, help="samples per FID (default 500)")
    parser.add_argument("--classifier-epochs", type=int, default=3, help="domain classifier epochs (default 3)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/divergence_rate"))
    parser.add_argument("--calibrate", action="store_true", help="only print the sample eps with batch eps=1's mean step")
    parser.add_argument("--report-only", action="store_true", help="write the table and plot from the finished cells, run nothing")
    parser.add_argument("--quick", action="store_true", help="tests: 4 iterations at width 4, 2 seeds, tiny scoring")
    args = parser.parse_args(argv)
    for option in ("seeds", "iterations", "width", "batch_size", "num_fake", "classifier_epochs"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')}={getattr(args, option)} must be >= 1")
    if not all(lr > 0 for lr in args.lrs) or not args.eps_sample > 0:
        parser.error(f"--lrs={args.lrs} and --eps-sample={args.eps_sample} must be > 0")
    if not args.data.is_file():
        parser.error(f"--data={args.data} does not exist: the offline CIFAR-10 subset lives in ../shared/data/cifar10_subset.npz")
    if args.quick:
        args.seeds, args.iterations, args.width, args.batch_size, args.num_fake, args.classifier_epochs = 2, 4, 4, 8, 16, 1
    args.data = args.data.resolve()
    return args


def main(argv: list[str] | None = None) -> dict[tuple[float, str], dict[str, Any]]:
    args = parse(argv)
    if args.calibrate:
        from benchmarks.dat_step import calibrate_eps

        calibrate_eps(lambda: make_module("gan", LRS[0], args.width, args.iterations, 1.0), args.data, args.batch_size, args.seeds,
                      f"DCGAN width {args.width}")
        return {}
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    classifier, name, accuracy = prepare_classifier(args.data, args.out, args.classifier_epochs, 1)
    settings = {"iterations": args.iterations, "width": args.width, "batch_size": args.batch_size, "eps_sample": args.eps_sample,
                "num_fake": args.num_fake}
    common = {**settings, "data": str(args.data), "classifier": str(classifier), "cache_dir": str(args.out / "real_features"),
              "data_key": f"divergence_rate-{file_digest(args.data)}"}
    reference = untrained_fid(args, common)
    print(f"domain classifier {name}: held-out accuracy {accuracy:.3f}; untrained generator FID {reference:.1f} "
          f"(rule 2 threshold {NOISE_FACTOR * reference:.1f})", flush=True)
    jobs = []
    for seed in range(args.seeds):  # seed-major: a partial grid covers every cell
        for lr in args.lrs:
            for method in args.methods:
                key = f"{method} lr={lr:g} seed={seed} " + " ".join(f"{k}={v}" for k, v in settings.items()) + f" classifier={name}"
                jobs.append({"key": key, "method": method, "lr": lr, "seed": seed, **common})
    journal = FinishedCells(args.out / "divergence_rate_cells.json")
    cells = ([c for c in map(journal.get, jobs) if c is not None] if args.report_only
             else run_jobs(run_cell, jobs, args.jobs, start, lambda c: _describe(c, reference), journal))
    table = rates(cells, reference)
    text = (f"DCGAN width {args.width}, batch {args.batch_size}, {args.iterations} generator iterations, FID of {args.num_fake} fakes "
            f"({name}, held-out accuracy {accuracy:.3f}); untrained-generator FID {reference:.1f}; dat_sample eps {args.eps_sample}; "
            f"wall of this invocation {(time.perf_counter() - start) / 60:.1f} min.\n\n" + markdown(table, args.methods, args.lrs))
    print(text, flush=True)
    from datgan_lightning.utils import write_atomically

    write_atomically(args.out / "divergence_rate_table.md", lambda tmp: Path(tmp).write_text(text + "\n"))
    save_plot(table, args.methods, args.lrs, args.out / "divergence_rate.png")
    print(f"cells: {args.out / 'divergence_rate_cells.json'}\ntable: {args.out / 'divergence_rate_table.md'}\nplot: {args.out / 'divergence_rate.png'}")
    return table


def _describe(cell: dict[str, Any], reference: float) -> str:
    if cell["error"]:
        return f"{cell['method']} lr {cell['lr']:g} seed {cell['seed']}: FAILED {cell['error']}"
    broken, reason = is_broken(cell["fids"], reference)
    fids = ", ".join("nan" if f is None else f"{f:.1f}" for f in cell["fids"])
    return f"{cell['method']} lr {cell['lr']:g} seed {cell['seed']}: FID {fids} -> {'BROKEN (' + reason + ')' if broken else 'ok'}"


if __name__ == "__main__":
    main()
