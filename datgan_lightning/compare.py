"""``datgan-compare``: train GAN and GAN+DAT on the same mixture with the same seed and show the difference.

    datgan-compare                                   # the separated imbalanced mixture, 8000 iterations
    datgan-compare configs/toy2d/gan_balanced.yaml configs/toy2d/gan_dat_balanced.yaml --iterations 3000

Why a separate command and not a ``datgan`` verb: LightningCLI runs one model per invocation, and a
comparison needs two runs that differ only in the perturbation. Each config runs through the
``datgan`` CLI (:func:`datgan_lightning.cli.main`) in its own process with one intra-op thread: the
2D MLPs gain nothing from intra-op threads, two single-threaded runs use both cores of a small
machine, and one thread keeps the command from slowing down tenfold when another process is busy
(with PyTorch's default two threads a toy run took 11x longer beside one busy process: each thread
waits for the other's time slice). This command's quiet and busy times are in ``benchmarks/RESULTS.md``.

Both runs get the same seed, length, logger and callbacks (so the comparison is fair whatever the
configs say): a CSV logger and ``MixtureMetrics`` writing ``mixture_metrics.json`` and scatter
plots, and a last checkpoint. From their outputs the command prints one table (modes, HQ share and
KL at every plotted iteration, both methods) and writes one figure (the two last scatter plots side
by side over the true modes) into the run directory ``<out>/version_N/``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CONFIGS = (Path("configs/toy2d/gan_imbalanced.yaml"), Path("configs/toy2d/gan_dat_imbalanced.yaml"))
PROJECT = Path(__file__).resolve().parents[1]  # a clone installed with `pip install -e .`
# seed 0 of the separated imbalanced mixture: DAT reaches 9 of 9 modes at 7250 iterations and keeps them
# to 10k, the baseline stays at 6 (benchmarks/RESULTS.md, "datgan-compare"); 8000 leaves a margin
DEFAULT_ITERATIONS = 8000
SAMPLES_FILE = "compare_samples.pt"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


class CompareError(ValueError):
    """Bad input to ``datgan-compare``; the message is one sentence naming the option, the value and the fix."""


@dataclass
class Run:
    """One training run of the comparison: its config, output directory and (after training) its results."""

    config: Path
    log_dir: Path
    process: subprocess.Popen | None = None
    name: str = ""
    history: list | None = None
    output: dict | None = None  # what train_one saved: name, samples by iteration, means, std, mixture


# ------------------------------------------------------------------ the child process: one training run
def train_one(samples_path: str, *cli_args: str) -> None:
    """Run ``datgan fit`` on ``cli_args`` with one thread, then save the plotted samples for the figure.

    Runs in the child process. ``mixture_metrics.json`` keeps the scores but not the samples, which
    the side-by-side figure needs; they are saved with the method's name and the mixture's modes.
    """
    import torch

    torch.set_num_threads(1)
    from datgan_lightning.callbacks import MixtureMetrics
    from datgan_lightning.cli import create_cli

    cli = create_cli(["fit", *cli_args])
    (metrics,) = [c for c in cli.trainer.callbacks if isinstance(c, MixtureMetrics)]
    dm, perturbation = cli.datamodule, cli.model.perturbation
    name = "GAN" if perturbation is None else f"GAN+{type(perturbation).__name__}"
    payload = {"name": name, "samples": metrics.samples, "means": dm.means, "weights": dm.weights, "std": dm.std,
               "mixture": dm.mixture, "seed": cli.config.fit.seed_everything}
    torch.save(payload, samples_path)


# ------------------------------------------------------------------ the parent: start, wait, report
def training_args(run: Run, iterations: int, plot_at: Sequence[int], num_samples: int, seed: int) -> list[str]:
    """The ``datgan fit`` options that make both runs comparable: same seed, length, outputs and scoring."""
    callbacks = [
        {
            "class_path": "datgan_lightning.callbacks.MixtureMetrics",
            "init_args": {"every_n_iterations": 500, "num_samples": num_samples, "plot_at": list(plot_at)},
        },
        {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", "init_args": {"save_last": True}},
    ]
    logger = {
        "class_path": "lightning.pytorch.loggers.CSVLogger",
        "init_args": {"save_dir": str(run.log_dir.parent), "name": "", "version": run.log_dir.name},
    }
    return [
        "--config", str(run.config),
        f"--seed_everything={seed}", f"--data.init_args.seed={seed}",
        f"--model.init_args.max_iterations={iterations}",
        f"--trainer.logger={json.dumps(logger)}", f"--trainer.callbacks={json.dumps(callbacks)}",
        f"--trainer.default_root_dir={run.log_dir}", "--trainer.enable_progress_bar=false",
    ]


def start(run: Run, cli_args: list[str]) -> None:
    """Start ``run`` in its own Python process (one thread), its output going to ``<log dir>/train.log``."""
    run.log_dir.mkdir(parents=True)
    code = "import sys; from datgan_lightning.compare import train_one; train_one(*sys.argv[1:])"
    command = [sys.executable, "-c", code, str(run.log_dir / SAMPLES_FILE), *cli_args]
    with open(run.log_dir / "train.log", "w") as log:
        run.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **ONE_THREAD})


def latest_iteration(run: Run) -> int:
    """The last generator iteration ``run`` has scored (0 before its first score)."""
    try:
        return json.loads((run.log_dir / "mixture_metrics.json").read_text())[-1]["generator_iterations"]
    except (OSError, ValueError, IndexError, KeyError):
        return 0


def wait(runs: list[Run], iterations: int, every: float = 20.0) -> None:
    """Wait for every run, printing progress every ``every`` seconds; stop the others if one fails."""
    next_report = time.monotonic() + every
    while any(r.process.poll() is None for r in runs):
        failed = [r for r in runs if r.process.poll() not in (None, 0)]
        if failed:
            stop(runs)
            raise CompareError(failure_message(failed[0]))
        if time.monotonic() >= next_report:
            print("  " + ", ".join(f"{r.config.stem} {latest_iteration(r)}/{iterations}" for r in runs), flush=True)
            next_report += every
        time.sleep(0.2)
    for run in runs:
        if run.process.returncode != 0:
            raise CompareError(failure_message(run))


def stop(runs: list[Run]) -> None:
    """Terminate the runs still going (only the processes this command started)."""
    for run in runs:
        if run.process is not None and run.process.poll() is None:
            run.process.terminate()
            run.process.wait()


def failure_message(run: Run) -> str:
    """One line: which config failed, the last line of its log (the CLI's ``error:`` line), where the log is."""
    log = run.log_dir / "train.log"
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:") or "Error:" in line]
    last = (errors or lines or ["(no output)"])[-1].removeprefix("error: ")
    return f"training {run.config} failed (exit {run.process.returncode}): {last} (full log: {log})"


def load_results(run: Run) -> None:
    """Read the run's scores (``mixture_metrics.json``) and its plotted samples."""
    import torch

    run.history = json.loads((run.log_dir / "mixture_metrics.json").read_text())
    payload = torch.load(run.log_dir / SAMPLES_FILE, weights_only=False)
    run.name, run.output = payload["name"], payload


# ------------------------------------------------------------------ table and figure
def comparison_table(runs: list[Run], plot_at: Sequence[int]) -> str:
    """Markdown table: one row per plotted iteration, modes / HQ share / KL of each run side by side."""
    head = "| iteration | " + " | ".join(f"{r.name} modes (of 9) | {r.name} HQ share | {r.name} KL" for r in runs) + " |"
    rows = [head, "| --- " * (1 + 3 * len(runs)) + "|"]
    for it in plot_at:
        cells = []
        for run in runs:
            (score,) = [h for h in run.history if h["generator_iterations"] == it]
            cells.append(f"{score['modes']} | {score['hq']:.3f} | {score['kl']:.3f}")
        rows.append(f"| {it} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def comparison_figure(runs: list[Run], iteration: int):
    """The runs' scatter plots at ``iteration``, side by side over the true modes; returns the Figure."""
    from datgan_lightning.plots import figure, scatter_mixture

    fig, axes = figure(1, len(runs), figsize=(3.0 * len(runs), 3.9), dpi=100)
    for ax, run in zip(axes[0], runs):
        (score,) = [h for h in run.history if h["generator_iterations"] == iteration]
        title = f"{run.name}: {score['modes']}/9 modes, KL {score['kl']:.3f}"
        scatter_mixture(ax, run.output["samples"][iteration], run.output["means"], run.output["std"], title)
        ax.set_xlim(-1.5, 1.5)  # the modes sit on {-1, 0, 1}^2: zoom in so the small ones are visible
        ax.set_ylim(-1.5, 1.5)
        for x, weight in column_weights(run.output):
            ax.text(x, -1.42, f"{weight:.0%}", ha="center", va="bottom", fontsize=7, color="dimgray")
    fig.suptitle(figure_caption(runs[0].output, iteration), fontsize=8)
    fig.legend(handles=legend_handles(runs[0].output["std"]), loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.13, 1, 1))  # room for the legend below the panels
    return fig


def column_weights(output: dict) -> list[tuple[float, float]]:
    """``(x, weight)`` of each column of the mixture's 3x3 grid: the share of the data drawn there."""
    means, weights = output["means"], output["weights"]
    columns = sorted({round(float(x), 6) for x in means[:, 0].tolist()})
    return [(x, float(sum(w for (mx, _), w in zip(means.tolist(), weights.tolist()) if abs(mx - x) < 1e-6))) for x in columns]


def legend_handles(std: float) -> list:
    """Proxy artists naming what the panels draw (as :func:`~datgan_lightning.plots.scatter_mixture` draws it)."""
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], linestyle="none", marker="o", markersize=3, color="tab:blue", alpha=0.6, label="generated samples"),
        Line2D([], [], linestyle="none", marker="x", color="tab:red", label="mode centres"),
        Line2D([], [], linestyle="none", marker="o", markersize=9, markerfacecolor="none", markeredgecolor="tab:red",
               alpha=0.5, label=f"3 std circles (radius {3 * std:g})"),
        Line2D([], [], linestyle="none", marker="$\\%$", color="dimgray", label="column weight (share of the data)"),
    ]


def figure_caption(output: dict, iteration: int) -> str:
    """What the reader needs to judge the panels: the mixture's column weights, its std, seed and iteration."""
    columns = " / ".join(f"{w:.0%}" for _, w in column_weights(output))
    return f"{output['mixture']} mixture (columns {columns}), std {output['std']:g}, seed {output['seed']}, iteration {iteration}"


# ------------------------------------------------------------------ options
class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line (the usage block stays in ``--help``)."""

    def error(self, message: str):
        print(f"{self.prog}: error: {message}; see {self.prog} --help.", file=sys.stderr)
        raise SystemExit(2)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = OneLineParser(
        prog="datgan-compare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("configs", nargs="*", type=Path, help=f"two toy configs (default: {' '.join(map(str, DEFAULT_CONFIGS))})")
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS, help="generator iterations of each run")
    parser.add_argument("--plot-at", type=int, nargs="+", help="iterations in the table (default: quarters of --iterations)")
    parser.add_argument("--num-samples", type=int, default=2500, help="generated samples per score and plot")
    parser.add_argument("--seed", type=int, default=0, help="seed of both runs (weights, data stream)")
    parser.add_argument("--out", type=Path, default=Path("runs/toy2d/compare"), help="runs go to <out>/version_N/")
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """Turn the options into a runnable comparison or raise :class:`CompareError` (one sentence)."""
    if not args.configs:  # from the working directory, else from the installed clone
        args.configs = [c if c.is_file() else PROJECT / c for c in DEFAULT_CONFIGS]
    for config in args.configs:
        if not config.is_file():
            raise CompareError(f"config {config} does not exist; pass the path of an existing YAML file.")
    if len(args.configs) != 2:
        raise CompareError(f"configs: got {len(args.configs)}; pass two (the baseline, then GAN+DAT), or none for the defaults.")
    if args.configs[0].stem == args.configs[1].stem:
        raise CompareError(f"configs: both are named {args.configs[0].stem}; pass two configs with different file names.")
    if args.iterations < 1:
        raise CompareError(f"--iterations {args.iterations} is invalid; use an integer >= 1.")
    if args.plot_at is None:
        args.plot_at = sorted({max(1, args.iterations * k // 4) for k in (1, 2, 3, 4)})
    bad = [i for i in args.plot_at if not 1 <= i <= args.iterations]
    if bad:
        raise CompareError(f"--plot-at {bad[0]} is outside 1..{args.iterations}; use iterations within --iterations.")
    args.plot_at = sorted(set(args.plot_at) | {args.iterations})
    if args.num_samples < 1:
        raise CompareError(f"--num-samples {args.num_samples} is invalid; use an integer >= 1.")


def next_run_dir(out: Path) -> Path:
    """``<out>/version_N`` with the next free N, as Lightning numbers its runs."""
    taken = [int(p.name.split("_")[1]) for p in out.glob("version_*") if p.name.split("_")[1].isdigit()]
    return out / f"version_{max(taken, default=-1) + 1}"


# ------------------------------------------------------------------ the command
def compare(args: argparse.Namespace) -> dict:
    """Train both configs in parallel, then write the table and the figure; returns paths, table, figure."""
    run_dir = next_run_dir(args.out)
    runs = [Run(config, run_dir / config.stem) for config in args.configs]
    print(
        f"Training {' and '.join(str(r.config) for r in runs)} in parallel ({args.iterations} generator "
        f"iterations each, seed {args.seed}, one thread each) into {run_dir}/",
        flush=True,
    )
    began = time.perf_counter()
    try:
        for run in runs:
            start(run, training_args(run, args.iterations, args.plot_at, args.num_samples, args.seed))
        wait(runs, args.iterations)
    finally:
        stop(runs)
    seconds = time.perf_counter() - began
    for run in runs:
        load_results(run)
    if runs[0].name == runs[1].name:  # e.g. two DAT settings: tell them apart by config
        for run in runs:
            run.name = run.config.stem
    table = comparison_table(runs, args.plot_at)
    (run_dir / "comparison.md").write_text(table + "\n")
    from datgan_lightning.plots import save_figure

    figure = comparison_figure(runs, args.iterations)
    figure_path = save_figure(figure, run_dir / "comparison.png")
    print(f"\n{table}\n\nwall time {seconds:.0f} s")
    print(f"table:  {run_dir / 'comparison.md'}\nfigure: {figure_path}\nruns:   {runs[0].log_dir}, {runs[1].log_dir}")
    return {"run_dir": run_dir, "table": table, "figure": figure, "figure_path": figure_path, "seconds": seconds}


def run(argv: Sequence[str] | None = None) -> dict:
    """Parse, check and run the comparison; returns what :func:`compare` returns (the Figure too, for tests).
    Bad input ends with one ``error:`` line on stderr and exit code 2."""
    args = parse_args(argv)
    try:
        check_args(args)
        return compare(args)
    except CompareError as err:
        print(f"datgan-compare: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``datgan-compare`` (returns nothing: a console script would print a return value)."""
    run(argv)


if __name__ == "__main__":
    main()
