"""DAT against and together with the discriminator stabilizers (issue 18) on the offline CIFAR-10 subset:
every method of ``configs/stabilizers/`` with the same budget and seeds, scored by domain-classifier FID/KID on
the held-out and on the training images (the gap shows D overfitting), D's robustness and the time per
generator iteration; prints mean ± std per method, writes JSON, a table and a plot of FID vs iterations.

    python -m benchmarks.stabilizers --quick                       # 9 methods x 3 seeds, 30 iterations: < 10 min on 2 cores
    python -m benchmarks.stabilizers --iterations 300 --fraction 10 --json benchmarks/out/stabilizers/s10.json

Cells (``harness.Table``): ``configs/cpu/sngan_cifar10_subset.yaml`` + ``configs/stabilizers/data_<fraction>.yaml``
+ ``configs/stabilizers/<method>.yaml``, as ``datgan fit`` stacks them: SNGAN-32 (hinge, n_dis 5, Adam 2e-4
β = (0, 0.9), batch 32) at width ``--width`` (16), on 100% (4,660), 20% (932) or 10% (466) of the subset's
training images (``--fraction``; subset seed 0 for every run), ``--iterations`` generator iterations (300;
30 with ``--quick``). Methods with their papers' defaults: ``baseline``, ``dat`` (ε = 1 batch variant),
``diffaugment`` (color, translation, cutout), ``diffaugment_dat``, ``ada`` (ADA-p, target 0.6), ``bcr``
(λ 10/10), ``lecam`` (λ 0.3, decay 0.99, no warm-up), ``lecam_diffaugment``, ``lecam_diffaugment_dat``.
Seed s: ``--seed_everything s`` and data order s (same initial nets for every method at one seed).

Scores of each run:

* ``fid_test`` / ``kid_test``: N samples against the N held-out test images, ``fid_train`` / ``kid_train``: the
  same samples against the first N training images the run trained on, N = min(846, training images) (equal
  counts, so the two FIDs have the same small-sample bias and ``fid_gap`` = test − train measures overfitting
  only), in the feature space of a small CIFAR-10 domain classifier trained once on the subset's training
  images (``harness.prepare_classifier``; its numbers compare only with each other); ``fid_test`` and
  ``fid_train`` also every ``--every`` iterations, for the plot;
* D's robustness as in ``benchmarks.ablation`` (of the plain D, not D∘T): ``flip_share_fake``,
  ``fgsm_accuracy_real``, ``clean_accuracy_real``, ``iterations_to_flip_real`` / ``_fake``;
* ``seconds_per_iteration``: training wall time without the evaluations, per generator iteration (runs
  share the cores: compare within one invocation); the table shows it relative to the baseline.

Outputs (atomic): ``--json`` (default ``<out>/stabilizers.json``) ``{"setup": {...}, "methods": {method:
{metric: [one value per seed]}}, "curves": {method: {iteration: {"fid_test": [...], "fid_train": [...]}}}}``
(``null`` for a non-finite value or a failed run), the markdown table ``<out>/<json name>_table.md`` and the plot
``--plot`` (default ``<out>/stabilizers.png``). Each run's resolved config and FID history are in
``<out>/runs/<fraction>/<method>/seed<s>/``. The grid is resumable as ``benchmarks.ablation``'s: finished
cells in ``<out>/<json name>_cells.json``, skipped by a rerun of the same command (``--restart``: recompute).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from benchmarks.harness import (
    CONFIGS,
    DEFAULT_DATA,
    OUT,
    FinishedCells,
    Table,
    add_resume_options,
    cell_arguments,
    check_iterations,
    count,
    figure,
    file_digest,
    finite,
    json_number,
    mean_std,
    paired,
    prepare_classifier,
    preset,
    require_data,
    run_jobs,
    run_safely,
    save_figure,
    write_outputs,
)
from datgan_lightning.callbacks.base import EveryNIterations
from datgan_lightning.metrics import DomainClassifierFeatures, ImageQuality

METHODS = ("baseline", "dat", "diffaugment", "diffaugment_dat", "ada", "bcr", "lecam", "lecam_diffaugment", "lecam_diffaugment_dat")
WITHOUT_DAT = {"dat": "baseline", "diffaugment_dat": "diffaugment", "lecam_diffaugment_dat": "lecam_diffaugment"}
FRACTIONS = ("100", "20", "10")  # --fraction: percent of the training images (the offline subset: 4,660, 932, 466)
METRICS = ("fid_test", "fid_train", "fid_gap", "kid_test", "kid_train", "flip_share_fake", "fgsm_accuracy_real",
           "clean_accuracy_real", "iterations_to_flip_real", "iterations_to_flip_fake", "seconds_per_iteration")
ROBUSTNESS = {"flip_share_fake": "flip_share_fake", "fgsm_accuracy_real": "accuracy_real_fgsm", "clean_accuracy_real": "accuracy_real_clean",
              "iterations_to_flip_real": "iterations_to_flip_real", "iterations_to_flip_fake": "iterations_to_flip_fake"}  # ours: robustness_report's
SHOWN = (("fid_test", "FID test", 2), ("fid_train", "FID train", 2), ("fid_gap", "test − train", 2), ("kid_test", "KID test", 3),
         ("flip_share_fake", "flip share (fakes)", 3), ("fgsm_accuracy_real", "FGSM acc. (reals)", 3),
         ("iterations_to_flip_fake", "PGD its. to flip (fakes)", 1))


def stabilizer_table(fraction: str, width: int) -> Table:
    """The nine methods on the CPU SNGAN base at one data fraction, as rows of a :class:`~benchmarks.harness.Table`."""
    data = f"stabilizers/data_{fraction}.yaml"
    rows = {m: ["--config", str(CONFIGS / data), "--config", str(CONFIGS / "stabilizers" / f"{m}.yaml")] for m in METHODS}
    return Table(f"SNGAN-32 (width {width}) on {fraction}% of the training images",
                 "cpu/sngan_cifar10_subset.yaml", rows, 300, 30, [f"--model.init_args.ngf={width}", f"--model.init_args.ndf={width}"],
                 reference={m: "baseline" for m in METHODS if m != "baseline"})


# ------------------------------------------------------------------------------------------- one run
class HeldOutAndTrainQuality(EveryNIterations):
    """FID/KID of ``quality`` on the held-out and the training split every ``every_n_iterations`` generator
    iterations and after the last (``history``), timing itself (``seconds``) so training time excludes it."""

    json_name = "fid_history.json"

    def __init__(self, quality: ImageQuality, every_n_iterations: int) -> None:
        super().__init__(every_n_iterations)
        self.quality, self.seconds = quality, 0.0

    def evaluate(self, module, datamodule) -> dict[str, float]:
        start = time.perf_counter()
        splits = {"test": datamodule.test_dataset, "train": datamodule.train_dataset}
        scores = self.quality(module.sampling_generator, splits, data_key="stabilizers")  # memory cache only: the key names nothing on disk
        self.seconds += time.perf_counter() - start
        return scores


def run_cell(job: dict) -> dict:
    """Train one (method, seed) cell from its configs and score it; never raises (a failure is reported)."""
    return run_safely(_train_and_score, job, {"scores": {}, "curve": {}})


def _train_and_score(job: dict) -> dict:
    from datgan_lightning.cli import create_cli
    from datgan_lightning.metrics.robustness import robustness_report

    cli = create_cli(job["arguments"], run=False)
    model, data = cli.model, cli.datamodule
    data.setup("fit")
    n = min(job["num_samples"], len(data.test_dataset), len(data.train_dataset))
    quality = ImageQuality(DomainClassifierFeatures(job["classifier"]), num_real={"test": n, "train": n}, batch_size=250)
    scorer = HeldOutAndTrainQuality(quality, job["every"])
    cli.trainer.callbacks.append(scorer)
    start = time.perf_counter()
    cli.trainer.fit(model, data)
    seconds = time.perf_counter() - start - scorer.seconds
    check_iterations(model, job["iterations"])
    name = quality.extractor.name
    curve = {h["generator_iterations"]: {"fid_test": h[f"fid/test/{name}"], "fid_train": h[f"fid/train/{name}"]} for h in scorer.history}
    last = scorer.history[-1]
    model.cpu()
    r = job["robustness_samples"]
    fake = model.sample(z=torch.randn(r, model.generator.latent_dim, generator=torch.Generator().manual_seed(0)))
    robust = robustness_report(model.discriminator, data.train_dataset.tensors[0][:r], fake, model.loss, max_iterations=job["flip_iterations"])
    scores = {
        "fid_test": last[f"fid/test/{name}"], "fid_train": last[f"fid/train/{name}"],
        "fid_gap": last[f"fid/test/{name}"] - last[f"fid/train/{name}"],
        "kid_test": last[f"kid/test/{name}"], "kid_train": last[f"kid/train/{name}"],
        **{ours: robust[f"robustness/{theirs}"] for ours, theirs in ROBUSTNESS.items()},
        "seconds_per_iteration": seconds / job["iterations"],
    }
    return {"scores": scores, "curve": curve, "num_samples": n, "train_images": len(data.train_dataset)}


# -------------------------------------------------------------------------------------- reporting
def markdown(results: dict, header: str) -> str:
    """One row per method: mean ± std over seeds, time relative to the baseline, FID test differences seed by seed."""
    methods = results["methods"]
    base = finite(methods.get("baseline", {}).get("seconds_per_iteration", []))
    base_time = statistics.fmean(base) if base else None
    lines = [header, "", "| method | " + " | ".join(label for _, label, _ in SHOWN)
             + " | s / it (× baseline) | FID test − baseline, same seed | FID test − same without DAT |",
             "| --- |" + " --- |" * (len(SHOWN) + 3)]
    for method, metrics in methods.items():
        times = finite(metrics["seconds_per_iteration"])
        relative = f" (× {statistics.fmean(times) / base_time:.2f})" if times and base_time else ""
        seconds = f"{statistics.fmean(times):.2f}{relative}" if times else "n/a"
        cells = [mean_std(metrics[m], d) for m, _, d in SHOWN]
        versus = [paired(methods, method, "baseline" if method != "baseline" else None, "fid_test"),
                  paired(methods, method, WITHOUT_DAT.get(method), "fid_test")]
        lines.append(f"| {method} | " + " | ".join([*cells, seconds, *versus]) + " |")
    return "\n".join(lines)


def save_plot(results: dict, path: Path, title: str) -> None:
    """FID on the held-out images and the test − train gap vs generator iterations, mean ± std over seeds, one line per method."""
    from matplotlib import colormaps

    fig = figure(figsize=(12, 4.5))
    axes = fig.subplots(1, 2)
    for index, (method, curve) in enumerate(results["curves"].items()):
        style = {"color": colormaps["tab10"](index % 10), "linestyle": "--" if method in WITHOUT_DAT else "-", "marker": "o", "markersize": 3}
        xs = sorted(curve, key=int)
        for ax, series in zip(axes, ("fid_test", "fid_gap")):
            values = [finite(curve[x][series]) for x in xs]
            points = [(int(x), statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0) for x, v in zip(xs, values) if v]
            if not points:
                continue
            its, means, stds = zip(*points)
            ax.plot(its, means, label=method, **style)
            ax.fill_between(its, [m - s for m, s in zip(means, stds)], [m + s for m, s in zip(means, stds)], color=style["color"], alpha=0.12)
    axes[0].set_title("FID on the held-out images (domain classifier)", fontsize=9)
    axes[1].set_title("FID test − FID train (D overfitting when > 0)", fontsize=9)
    axes[1].axhline(0, color="grey", linewidth=0.8)
    for ax in axes:
        ax.set_xlabel("generator iterations")
    axes[0].legend(fontsize=7, ncol=2)
    fig.suptitle(f"{title}: mean ± std over seeds (dashed: with DAT)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=80)


def collect(runs: list[dict], methods: list[str]) -> dict:
    """Per method: each metric's values over seeds; per method and scored iteration: FID test/train/gap over seeds
    (the outcomes as read back from JSON: a curve's iterations are strings)."""
    out: dict = {"methods": {}, "curves": {}}
    for method in methods:
        done = sorted((r for r in runs if r["row"] == method), key=lambda r: r["seed"])
        out["methods"][method] = {m: [json_number(r["scores"].get(m)) for r in done] for m in METRICS}
        iterations = sorted({i for r in done for i in r["curve"]}, key=int)
        out["curves"][method] = {
            i: {
                "fid_test": [json_number(r["curve"].get(i, {}).get("fid_test")) for r in done],
                "fid_train": [json_number(r["curve"].get(i, {}).get("fid_train")) for r in done],
                "fid_gap": [json_number(r["curve"][i]["fid_test"] - r["curve"][i]["fid_train"]) if i in r["curve"] else None for r in done],
            }
            for i in iterations
        }
    return out


# ------------------------------------------------------------------------------------------- main
def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS), help="methods to run (default: all nine)")
    parser.add_argument("--fraction", choices=sorted(FRACTIONS), default="100", help="percent of the subset's training images (default 100)")
    parser.add_argument("--seeds", type=count, default=3, help="seeds per method, 0..N-1 (default 3)")
    parser.add_argument("--jobs", type=count, default=2, help="parallel processes, one thread each (default 2)")
    parser.add_argument("--iterations", type=count, default=None, help="generator iterations per run (default 300; quick 30; smoke 2)")
    parser.add_argument("--every", type=count, default=None, help="score FID every N generator iterations (default: iterations / 10; quick: / 3)")
    parser.add_argument("--width", type=count, default=16, help="SNGAN ngf = ndf (default 16; smoke 8)")
    parser.add_argument("--quick", action="store_true", help="30 iterations, 500 samples, 3 classifier epochs: under 10 minutes")
    parser.add_argument("--smoke", action="store_true", help="tests only: 2 iterations at width 8, batch 4, tiny scoring")
    parser.add_argument("--num-samples", type=count, default=None, help="fakes and reals per split for FID/KID (default 846; quick 500)")
    parser.add_argument("--robustness-samples", type=count, default=None, help="reals and fakes of the robustness measures (default 128; quick 64)")
    parser.add_argument("--classifier-epochs", type=count, default=None, help="domain classifier epochs (default 10; quick 3)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the .npz images (default ../shared/data/cifar10_subset.npz)")
    parser.add_argument("--out", type=Path, default=OUT / "stabilizers", help="where the outputs, the runs and the caches go (default benchmarks/out/stabilizers)")
    parser.add_argument("--json", type=Path, default=None, help="results JSON (default <out>/stabilizers.json)")
    parser.add_argument("--plot", type=Path, default=None, help="PNG (default <out>/stabilizers.png)")
    add_resume_options(parser)
    args = parser.parse_args(argv)
    args.data = require_data(parser, args.data)
    args.iterations = args.iterations or preset(args, 300, 30, 2)
    args.every = args.every or max(1, args.iterations // (3 if args.quick else 10))  # quick: 4 FID points (scoring dominates)
    args.width = 8 if args.smoke else args.width
    args.num_samples = args.num_samples or preset(args, 846, 500, 16)
    args.robustness_samples = args.robustness_samples or preset(args, 128, 64, 4)
    args.classifier_epochs = args.classifier_epochs or preset(args, 10, 3, 1)
    args.json = args.json or args.out / "stabilizers.json"
    args.plot = args.plot or args.out / "stabilizers.png"
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    classifier, extractor_name, accuracy = prepare_classifier(args.data, args.out, args.classifier_epochs, args.jobs)
    table = stabilizer_table(args.fraction, args.width)
    extra = ["--data.init_args.batch_size=4"] if args.smoke else []
    jobs = []
    for seed in range(args.seeds):  # seed-major: the first results cover every method
        for method in args.methods:
            run_dir = args.out / "runs" / f"data_{args.fraction}" / method / f"seed{seed}"
            jobs.append({
                "row": method, "seed": seed, "iterations": args.iterations, "every": args.every,
                "arguments": cell_arguments(table, method, seed, args.iterations, args.data, run_dir, extra),
                "classifier": str(classifier), "num_samples": args.num_samples, "robustness_samples": args.robustness_samples,
                "flip_iterations": 5 if args.smoke else 100,  # the cap of PGD steps to flip (Fig. 9), as benchmarks.ablation
            })
    print(f"domain classifier {extractor_name}: held-out accuracy {accuracy:.3f}; {table.title} of {args.data.name}; {args.iterations} generator "
          f"iterations; {len(jobs)} runs in {args.jobs} process(es)", flush=True)
    journal = FinishedCells(args.json.with_name(f"{args.json.stem}_cells.json"), restart=args.restart)
    runs = run_jobs(run_cell, jobs, args.jobs, start, _describe, journal)

    wall = time.perf_counter() - start
    done = next((r for r in runs if not r["error"]), {"num_samples": args.num_samples, "train_images": None})
    n, title = done["num_samples"], f"{table.title} of {args.data.name} ({done['train_images']} images)"
    setup = {"title": title, "fraction": args.fraction, "iterations": args.iterations, "every": args.every, "width": args.width,
             "seeds": args.seeds, "num_samples": n, "classifier": extractor_name, "classifier_accuracy": accuracy,
             "data": file_digest(args.data), "wall_seconds": wall, "jobs": args.jobs}
    results = {"setup": setup, **collect(runs, args.methods)}
    header = (f"{title}, {args.iterations} generator iterations, seeds 0-{args.seeds - 1} (mean ± std); FID/KID of {n} samples "
              f"vs {n} held-out test images and vs {n} training images, domain classifier {extractor_name} (held-out accuracy "
              f"{accuracy:.3f}); robustness on {args.robustness_samples} reals/fakes; wall {wall / 60:.1f} min with {args.jobs} process(es).")
    text = markdown(results, header)
    print(text, flush=True)
    for r in runs:
        if r["error"]:
            print(f"FAILED {r['row']} / seed {r['seed']}: {r['error']}")
    table_path = write_outputs(args.out, args.json, results, text)
    save_plot(results, args.plot, title)
    print(f"json: {args.json}\nplot: {args.plot}\ntable: {table_path}\nwall: {wall / 60:.1f} min")
    return results


def _describe(run: dict) -> str:
    s = run["scores"]
    status = (f"FID test {s['fid_test']:.2f} train {s['fid_train']:.2f} flip {s['flip_share_fake']:.2f} {s['seconds_per_iteration']:.2f} s/it"
              if s else f"FAILED {run['error']}")
    return f"{run['row']} / seed {run['seed']}: {status}"


if __name__ == "__main__":
    main()
