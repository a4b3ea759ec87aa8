"""The DAT paper's ablations at CPU size on the offline CIFAR-10 subset, several seeds per cell, scored by
domain-classifier FID/KID and D's robustness; prints mean ± std per row, writes JSON, a table and a plot.

    python -m benchmarks.ablation --table table3_ns --quick                 # under 10 minutes on 2 cores (quiet)
    python -m benchmarks.ablation --table table3_ns table4 --seeds 3 --jobs 2 --json benchmarks/out/ablation/ablation.json

Tables (``--table``, one or more; every cell is a config of ``configs/`` stacked as ``datgan fit`` would):

* ``table3_ns`` / ``table3_lsgan`` / ``table3_wasserstein``: Table III, one loss, nine columns:
  ``configs/cpu/table3_<loss>.yaml`` + ``configs/table3/methods/<method>.yaml`` (DCGAN nets, z = 128,
  Adam 1e-4, β = (0.5, 0.999), width 32, batch 32), 1000 generator iterations (100 with ``--quick``).
* ``table4``: Table IV, ``configs/cpu/sngan_cifar10_subset.yaml`` + ``configs/table4/<row>.yaml``
  (SNGAN-32, hinge, n_dis 5) at width 16, 300 generator iterations (30 with ``--quick``).
* ``fig4`` / ``fig4_betas``: Fig. 4, ``configs/cpu/dcgan_cifar10_subset[_dat].yaml`` + ``configs/fig4/lr_*.yaml``
  (or ``betas_*.yaml``), GAN and GAN+DAT, 1000 iterations (100 with ``--quick``).
* ``fig6`` / ``fig7``: Fig. 6 (ε) and Fig. 7 (steps at ε 0.6 and 1) as command-line overrides of
  ``configs/cpu/sngan_cifar10_subset_dat.yaml`` at width 16, as ``table4``.
* ``fig6_visible``: the same SNGAN without DAT and with batch DAT at ε = 1, 10, 30, 100: the ε where the
  step is visible at this size (issue 27), each compared with no DAT seed by seed; ``fig7_visible``: batch
  DAT at ε = 10 with 1, 2, 3 and 5 steps, the same way.

Scores of each run (seed s: ``--seed_everything s``, data order seed s):

* ``fid``, ``kid``: generated samples (``--num-fake``, default 2000; 500 with ``--quick``) against all 4660
  training images ("Train FID" as Tables III/IV), in the feature space of a small CIFAR-10 domain classifier
  trained once on the training images and cached under ``--out`` (its numbers compare only with each other);
* ``flip_share_fake`` (Fig. 8: share of fakes whose decision an ‖δ‖∞ ≤ 0.1 attack flips),
  ``fgsm_accuracy_real`` (AS-GAN Table 2: D's accuracy on reals under FGSM ε = 1/255), ``clean_accuracy_real``,
  ``iterations_to_flip_real`` / ``_fake`` (Fig. 9), on the first ``--robustness-samples`` training images and
  as many fakes of a fixed latent batch (:func:`datgan_lightning.metrics.robustness.robustness_report`);
* ``seconds_per_iteration`` (training only; runs share the cores).

Cells run in ``--jobs`` spawned processes with one thread each. Outputs (written atomically): ``--json``
(default ``<out>/ablation.json``) ``{table: {row: {metric: [one value per seed]}}}`` (``null`` for a
non-finite value or a failed run), the markdown table ``<out>/<json name>_table.md`` and the plot ``--plot`` (default
``<out>/ablation.png``); each run's resolved config is in ``<out>/runs/<table>/<row>/seed<s>/config.yaml``.

The grid is resumable: each finished cell goes to ``<out>/<json name>_cells.json`` at once, and the same
command run again skips the cells found there (``--restart`` recomputes them).

Scoring uses :class:`datgan_lightning.metrics.ImageQuality` (the torch-fidelity formulas), not the
torchmetrics engine: its KID draws its subsets with numpy's ``RandomState(2020)`` as torch-fidelity does,
torchmetrics' with torch's RNG, so the KID column (and FID's last digit) would not repeat the published tables.
"""

from __future__ import annotations

import argparse
import math
import re
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

METRICS = ("fid", "kid", "flip_share_fake", "fgsm_accuracy_real", "clean_accuracy_real",
           "iterations_to_flip_real", "iterations_to_flip_fake", "seconds_per_iteration", "step_mean_grey")
SHOWN = (("fid", "FID", 2), ("kid", "KID", 3), ("flip_share_fake", "flip share (fakes)", 3),
         ("fgsm_accuracy_real", "FGSM acc. (reals)", 3), ("clean_accuracy_real", "clean acc. (reals)", 3),
         ("iterations_to_flip_fake", "PGD its. to flip (fakes)", 1), ("seconds_per_iteration", "s / it", 3),
         ("step_mean_grey", "perturbation step (mean grey)", 3))


def _overlay(path: str) -> list[str]:
    return ["--config", str(CONFIGS / path)]


TABLE3_METHODS = ("none", "gp", "lp", "zero_gp", "ar", "rfm", "asgan", "dat", "datt")
TABLE4_ROWS = ("baseline", "real_only", "fake_only", "discriminator_only", "generator_only", "all")
FIG4_LRS = ("0.0002", "0.0005", "0.001", "0.002", "0.005")
FIG4_BETAS = ("0.0_0.9", "0.0_0.999", "0.5_0.9", "0.5_0.999", "0.9_0.999")
SNGAN_WIDTH = ["--model.init_args.ngf=16", "--model.init_args.ndf=16"]
VISIBLE_EPS = ("1", "10", "30", "100")
VISIBLE_STEPS = ("1", "2", "3", "5")  # at eps = 10: about 0.5 grey levels per step (fig6_visible)
EPS_ARG, STEPS_ARG = "--model.init_args.perturbation.init_args.eps", "--model.init_args.perturbation.init_args.steps"


def _fig4(kind: str, values: tuple[str, ...]) -> Table:
    rows, series = {}, {}
    for method, base in (("gan", "cpu/dcgan_cifar10_subset.yaml"), ("dat", "cpu/dcgan_cifar10_subset_dat.yaml")):
        for value in values:
            name = f"{method} {kind}={value}"
            rows[name] = ["--config", str(CONFIGS / base), *_overlay(f"fig4/{kind}_{value}.yaml")]
            series[name] = (method, float(value) if kind == "lr" else float(values.index(value)))
    title = "Fig. 4 (lr), DCGAN on the CIFAR-10 subset" if kind == "lr" else "Fig. 4 (betas), DCGAN on the CIFAR-10 subset"
    ticks = {x: (value if kind == "lr" else "({}, {})".format(*value.split("_"))) for value, x in zip(values, (series[f"gan {kind}={v}"][1] for v in values))}
    return Table(title, "", rows, 1000, 100, series=series, x_label="Adam learning rate" if kind == "lr" else "Adam (β1, β2)", x_ticks=ticks,
                 reference={f"gan {kind}={v}": f"dat {kind}={v}" for v in values})


TABLES: dict[str, Table] = {
    **{
        f"table3_{loss}": Table(
            f"Table III ({loss}), DCGAN z=128 on the CIFAR-10 subset", f"cpu/table3_{loss}.yaml",
            {m: _overlay(f"table3/methods/{m}.yaml") for m in TABLE3_METHODS}, 1000, 100,
            reference={m: "dat" for m in TABLE3_METHODS if m != "dat"},
        )
        for loss in ("ns", "lsgan", "wasserstein")
    },
    "table4": Table("Table IV, SNGAN-32 (width 16) on the CIFAR-10 subset", "cpu/sngan_cifar10_subset.yaml",
                    {r: _overlay(f"table4/{r}.yaml") for r in TABLE4_ROWS}, 300, 30, SNGAN_WIDTH,
                    reference={r: "discriminator_only" for r in TABLE4_ROWS if r != "discriminator_only"}),
    "fig4": _fig4("lr", FIG4_LRS),
    "fig4_betas": _fig4("betas", FIG4_BETAS),
    "fig6": Table("Fig. 6 (DAT eps), SNGAN-32 (width 16) on the CIFAR-10 subset", "cpu/sngan_cifar10_subset_dat.yaml",
                  {f"eps={e}": [f"{EPS_ARG}={e}"] for e in ("0.2", "0.6", "1", "2", "3")}, 300, 30, SNGAN_WIDTH,
                  series={f"eps={e}": ("dat", float(e)) for e in ("0.2", "0.6", "1", "2", "3")}, x_label="DAT eps"),
    # Fig. 6 where the step is visible: at this size batch eps = 1 moves pixels by 0.03-0.09 grey levels on
    # average (issue 27, study 1), so the sweep goes up to eps = 100 (roughly 1.5-5 grey levels at eps 30-100)
    "fig6_visible": Table("Fig. 6 at visible steps (batch DAT eps 1-100 vs no DAT), SNGAN-32 (width 16) on the CIFAR-10 subset", "",
                          {"gan": ["--config", str(CONFIGS / "cpu/sngan_cifar10_subset.yaml")],
                           **{f"eps={e}": ["--config", str(CONFIGS / "cpu/sngan_cifar10_subset_dat.yaml"), f"{EPS_ARG}={e}"] for e in VISIBLE_EPS}},
                          300, 30, SNGAN_WIDTH, reference={f"eps={e}": "gan" for e in VISIBLE_EPS}),
    # Fig. 7 at a visible step: batch DAT at eps = 10 repeated 1, 3 and 5 times, each against no DAT
    "fig7_visible": Table("Fig. 7 at a visible step (batch DAT eps 10, 1/2/3/5 steps vs no DAT), SNGAN-32 (width 16) on the CIFAR-10 subset", "",
                          {"gan": ["--config", str(CONFIGS / "cpu/sngan_cifar10_subset.yaml")],
                           **{f"steps={n}": ["--config", str(CONFIGS / "cpu/sngan_cifar10_subset_dat.yaml"), f"{EPS_ARG}=10", f"{STEPS_ARG}={n}"]
                              for n in VISIBLE_STEPS}},
                          300, 30, SNGAN_WIDTH, reference={f"steps={n}": "gan" for n in VISIBLE_STEPS}),
    "fig7": Table("Fig. 7 (DAT steps), SNGAN-32 (width 16) on the CIFAR-10 subset", "cpu/sngan_cifar10_subset_dat.yaml",
                  {f"eps={e} steps={s}": [f"{EPS_ARG}={e}", f"{STEPS_ARG}={s}"] for e in ("0.6", "1") for s in range(1, 6)},
                  300, 30, SNGAN_WIDTH, series={f"eps={e} steps={s}": (f"eps {e}", float(s)) for e in ("0.6", "1") for s in range(1, 6)},
                  x_label="DAT steps"),
}


# ------------------------------------------------------------------------------------------- one run
def run_cell(job: dict) -> dict:
    """Train one (table, row, seed) cell from its configs and score it; never raises (a failure is reported)."""
    return run_safely(lambda job: {"scores": _train_and_score(job)}, job, {"scores": {}})


def _train_and_score(job: dict) -> dict[str, float]:
    from datgan_lightning.cli import create_cli
    from datgan_lightning.metrics import DomainClassifierFeatures, ImageQuality
    from datgan_lightning.metrics.robustness import robustness_report

    cli = create_cli(job["arguments"], run=False)
    model, data = cli.model, cli.datamodule
    start = time.perf_counter()
    cli.trainer.fit(model, data)
    seconds = time.perf_counter() - start
    check_iterations(model, job["iterations"])
    model.cpu()
    quality = ImageQuality(DomainClassifierFeatures(job["classifier"]), num_real={"train": job["num_real"]},
                           num_fake={"train": job["num_fake"]}, batch_size=250, cache_dir=job["cache_dir"])
    scores = quality(model.sampling_generator, {"train": data.train_dataset}, data_key=job["data_key"])
    name = quality.extractor.name
    n = job["robustness_samples"]
    real = data.train_dataset.tensors[0][:n]
    fake = model.sample(z=torch.randn(n, model.generator.latent_dim, generator=torch.Generator().manual_seed(0)))
    robust = robustness_report(model.discriminator, real, fake, model.loss)
    # the perturbation's mean |delta| per pixel on the last logged D step (reals and fakes), in grey levels
    step = [v for k, v in (model.perturbation.log_values() if model.perturbation is not None else {}).items() if k.endswith("mean_grey")]
    return {
        "fid": scores[f"fid/train/{name}"],
        "kid": scores[f"kid/train/{name}"],
        "flip_share_fake": robust["robustness/flip_share_fake"],
        "fgsm_accuracy_real": robust["robustness/accuracy_real_fgsm"],
        "clean_accuracy_real": robust["robustness/accuracy_real_clean"],
        "iterations_to_flip_real": robust["robustness/iterations_to_flip_real"],
        "iterations_to_flip_fake": robust["robustness/iterations_to_flip_fake"],
        "seconds_per_iteration": seconds / job["iterations"],
        "step_mean_grey": statistics.fmean(step) if step else None,
    }


# ----------------------------------------------------------------------------------- the classifier
def cache_real_features(classifier: Path, data: Path, num_real: int, cache_dir: Path, data_key: str) -> None:
    """Extract the real features once, so the parallel runs read them from the disk cache."""
    from datgan_lightning.data import NpzImages
    from datgan_lightning.metrics import DomainClassifierFeatures, ImageQuality

    datamodule = NpzImages(str(data))
    datamodule.setup("fit")
    quality = ImageQuality(DomainClassifierFeatures(str(classifier)), num_real={"train": num_real}, batch_size=250, cache_dir=cache_dir)
    quality.real_features("train", datamodule.train_dataset, data_key)


# -------------------------------------------------------------------------------------- reporting
def markdown(results: dict, notes: dict[str, str]) -> str:
    lines = []
    for name, rows in results.items():
        reference = TABLES[name].reference
        lines += [f"### {name}: {notes[name]}", "", "| row | " + " | ".join(label for _, label, _ in SHOWN) + " | FID − reference, same seed |",
                  "| --- |" + " --- |" * (len(SHOWN) + 1)]
        for row, metrics in rows.items():
            lines.append(f"| {row} | " + " | ".join(mean_std(metrics[m], d) for m, _, d in SHOWN) + f" | {paired(rows, row, reference.get(row))} |")
        lines.append("")
    return "\n".join(lines)


def save_plot(results: dict, path: Path) -> None:
    """Per table: FID, flip share of fakes, PGD steps to flip fakes and FGSM accuracy on reals, mean ± std over seeds (bars per
    row, or lines over the swept value for the Fig. 4/6/7 sweeps)."""
    panels = (("fid", "FID (domain classifier)"), ("flip_share_fake", "flip share of fakes (Fig. 8)"),
              ("iterations_to_flip_fake", "PGD steps to flip fakes (Fig. 9)"), ("fgsm_accuracy_real", "FGSM accuracy on reals"))
    heights = [3.2 if TABLES[name].series else 0.4 * len(rows) + 1.6 for name, rows in results.items()]
    fig = figure(figsize=(4 * len(panels), sum(heights)))
    axes = fig.subplots(len(results), len(panels), squeeze=False, gridspec_kw={"height_ratios": heights})
    for axes_row, (name, rows) in zip(axes, results.items()):
        table = TABLES[name]
        for ax, (metric, label) in zip(axes_row, panels):
            stats = {row: finite(m[metric]) for row, m in rows.items()}
            means = {row: statistics.fmean(v) if v else math.nan for row, v in stats.items()}
            stds = {row: statistics.stdev(v) if len(v) > 1 else 0.0 for row, v in stats.items()}
            if table.series:
                for line in dict.fromkeys(s for s, _ in table.series.values()):
                    members = [row for row in rows if table.series[row][0] == line]
                    xs = [table.series[row][1] for row in members]
                    ax.errorbar(xs, [means[r] for r in members], yerr=[stds[r] for r in members], marker="o", capsize=3, label=line)
                if table.x_label == "Adam learning rate":
                    ax.set_xscale("log")
                ticks = table.x_ticks or {x: f"{x:g}" for _, x in table.series.values()}
                ax.set_xticks(list(ticks), list(ticks.values()), fontsize=7)
                ax.set_xticks([], minor=True)
                ax.set_xlabel(table.x_label, fontsize=8)
                ax.legend(fontsize=8)
            else:
                names = list(rows)
                ax.barh(range(len(names)), [means[r] for r in names], xerr=[stds[r] for r in names], capsize=3, color="tab:blue")
                ax.set_yticks(range(len(names)), names, fontsize=8)
                ax.invert_yaxis()
            ax.set_title(f"{name}: {label}", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=80)


# ------------------------------------------------------------------------------------------- main
def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", nargs="+", choices=sorted(TABLES), default=["table3_ns"], help="the ablation(s) to run")
    parser.add_argument("--seeds", type=count, default=3, help="seeds per cell, 0..N-1 (default 3)")
    parser.add_argument("--jobs", type=count, default=2, help="parallel processes, one thread each (default 2)")
    parser.add_argument("--iterations", type=count, default=None, help="generator iterations per run (default: the table's)")
    parser.add_argument("--rows", nargs="+", default=None, help="only these rows (names as printed)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the iterations, fewer samples: under 10 minutes")
    parser.add_argument("--smoke", action="store_true", help="tests only: 2 iterations at width 4 (SNGAN 8), tiny scoring")
    parser.add_argument("--num-fake", type=count, default=None, help="generated samples for FID/KID (default 2000; quick 500)")
    parser.add_argument("--robustness-samples", type=count, default=None, help="reals and fakes of the robustness measures (default 128; quick 64)")
    parser.add_argument("--classifier-epochs", type=count, default=None, help="domain classifier epochs (default 10; quick 3)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the .npz images (default ../shared/data/cifar10_subset.npz)")
    parser.add_argument("--out", type=Path, default=OUT / "ablation", help="where the outputs, the runs and the caches go (default benchmarks/out/ablation)")
    parser.add_argument("--json", type=Path, default=None, help="results JSON (default <out>/ablation.json)")
    parser.add_argument("--plot", type=Path, default=None, help="PNG (default <out>/ablation.png)")
    add_resume_options(parser)
    args = parser.parse_args(argv)
    args.data = require_data(parser, args.data)
    args.num_fake = args.num_fake or preset(args, 2000, 500, 16)
    args.robustness_samples = args.robustness_samples or preset(args, 128, 64, 4)
    args.classifier_epochs = args.classifier_epochs or preset(args, 10, 3, 1)
    args.json = args.json or args.out / "ablation.json"
    args.plot = args.plot or args.out / "ablation.png"
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    classifier, extractor_name, accuracy = prepare_classifier(args.data, args.out, args.classifier_epochs, args.jobs)
    data_key = f"ablation-{file_digest(args.data)}"
    import numpy as np

    with np.load(args.data) as arrays:
        num_real = len(arrays["train_x"])
    cache_dir = args.out / "real_features"
    cache_real_features(classifier, args.data, num_real, cache_dir, data_key)
    print(f"domain classifier {extractor_name}: held-out accuracy {accuracy:.3f}; FID/KID of {args.num_fake} fakes vs {num_real} "
          f"training images; robustness on {args.robustness_samples} reals and fakes", flush=True)

    jobs, notes = [], {}
    for name in args.table:
        table = TABLES[name]
        iterations = args.iterations or preset(args, table.iterations, table.quick_iterations, 2)
        extra = []
        if args.smoke:
            width = 8 if "sngan" in (table.base or "") else 4
            extra = [f"--model.init_args.ngf={width}", f"--model.init_args.ndf={width}", "--data.init_args.batch_size=4",
                     "--trainer.log_every_n_steps=1"]  # every step logged, so the perturbation-step column has a value
        rows = [r for r in table.rows if args.rows is None or r in args.rows]
        notes[name] = f"{table.title}, {iterations} generator iterations, seeds 0-{args.seeds - 1}"
        for seed in range(args.seeds):  # seed-major: the first results cover every row
            for row in rows:
                run_dir = args.out / "runs" / name / re.sub(r"[^A-Za-z0-9_.=-]+", "_", row) / f"seed{seed}"
                jobs.append({
                    "table": name, "row": row, "seed": seed, "iterations": iterations,
                    "arguments": cell_arguments(table, row, seed, iterations, args.data, run_dir, extra),
                    "classifier": str(classifier), "num_real": num_real, "num_fake": args.num_fake, "cache_dir": str(cache_dir),
                    "data_key": data_key, "robustness_samples": args.robustness_samples,
                })
    print(f"{len(jobs)} runs in {args.jobs} process(es)", flush=True)

    journal = FinishedCells(args.json.with_name(f"{args.json.stem}_cells.json"), restart=args.restart)
    runs = run_jobs(run_cell, jobs, args.jobs, start, _describe, journal)

    results: dict = {name: {} for name in args.table}
    for name in args.table:
        for row in (r for r in TABLES[name].rows if args.rows is None or r in args.rows):
            done = sorted((r for r in runs if r["table"] == name and r["row"] == row), key=lambda r: r["seed"])
            results[name][row] = {m: [json_number(r["scores"].get(m)) for r in done] for m in METRICS}
    wall = time.perf_counter() - start
    header = (f"Domain classifier {extractor_name} (held-out accuracy {accuracy:.3f}); FID/KID of {args.num_fake} fakes vs "
              f"{num_real} training images; robustness on {args.robustness_samples} reals/fakes; mean ± std over seeds; "
              f"wall {wall / 60:.1f} min with {args.jobs} process(es).")
    table_md = header + "\n\n" + markdown(results, notes)
    print(table_md, flush=True)
    failed = [r for r in runs if r["error"]]
    for r in failed:
        print(f"FAILED {r['table']} / {r['row']} / seed {r['seed']}: {r['error']}")
    table_path = write_outputs(args.out, args.json, results, table_md)
    save_plot(results, args.plot)
    print(f"json: {args.json}\nplot: {args.plot}\ntable: {table_path}\nwall: {wall / 60:.1f} min")
    return results


def _describe(run: dict) -> str:
    s = run["scores"]
    status = f"FID {s['fid']:.2f} flip {s['flip_share_fake']:.2f} FGSM acc {s['fgsm_accuracy_real']:.2f}" if s else f"FAILED {run['error']}"
    return f"{run['table']} / {run['row']} / seed {run['seed']}: {status}"


if __name__ == "__main__":
    main()
