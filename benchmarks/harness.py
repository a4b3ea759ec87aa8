"""What every benchmark study shares: where things live, presets, runs built from the configs, the job
runner (spawned processes, one thread each, a progress line with an ETA per finished cell, resumable
grids), mean ± std and paired differences, atomic JSON/table/figure writers and the domain classifier.

A study is a module of this package, run as ``python -m benchmarks.<name>`` from the repository root.
It builds a list of jobs (JSON-able dicts), gives :func:`run_jobs` a module-level function that trains and
scores one job (wrapped in :func:`run_safely`, so a failed cell is reported instead of losing the grid),
and turns the outcomes into its table. With a :class:`FinishedCells` journal, every finished cell is
written to disk at once and a rerun of the same command skips it.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import multiprocessing as mp
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
OUT = REPO / "benchmarks" / "out"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "cifar10_subset.npz"


# ------------------------------------------------------------------------------------------ presets
def preset(args: argparse.Namespace, full: Any, quick: Any, smoke: Any) -> Any:
    """The value of the run's size: ``smoke`` with ``--smoke``, ``quick`` with ``--quick``, else ``full``."""
    return smoke if getattr(args, "smoke", False) else quick if getattr(args, "quick", False) else full


def count(text: str) -> int:
    """argparse type of the counts: an integer >= 1 (a 0 would silently mean "the default")."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def require_data(parser: argparse.ArgumentParser, data: Path) -> Path:
    """``data`` resolved, or one ``error:`` line naming the option, the value and where the subset lives."""
    if not data.is_file():
        parser.error(f"--data={data} does not exist: the offline CIFAR-10 subset lives in ../shared/data/cifar10_subset.npz")
    return data.resolve()


def add_resume_options(parser: argparse.ArgumentParser) -> None:
    """``--restart``: the option of every resumable grid (see :class:`FinishedCells`)."""
    parser.add_argument("--restart", action="store_true",
                        help="recompute every cell (default: a rerun of the same command skips the cells an earlier run finished)")


# ---------------------------------------------------------------------------- runs from the configs
def quiet_trainer(run_dir: Path) -> list[str]:
    """``datgan fit`` options of a benchmark run: no logger, callbacks, checkpoints, progress bar or summary."""
    return [
        "--trainer.logger=false", "--trainer.callbacks=[]", "--trainer.enable_checkpointing=false",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", f"--trainer.default_root_dir={run_dir}",
    ]


class Table:
    """One ablation: rows of ``datgan fit`` arguments stacked on ``base`` (a row may bring its own base),
    ``overrides`` for every row (e.g. narrower nets), and for line plots each row's ``series`` ``(line, x)``."""

    def __init__(self, title: str, base: str, rows: dict[str, list[str]], iterations: int, quick_iterations: int,
                 overrides: list[str] | None = None, series: dict[str, tuple[str, float]] | None = None,
                 x_label: str = "", x_ticks: dict[float, str] | None = None, reference: dict[str, str] | None = None) -> None:
        self.title, self.base, self.rows = title, base, rows
        self.iterations, self.quick_iterations = iterations, quick_iterations
        self.overrides, self.series = overrides or [], series or {}
        self.x_label, self.x_ticks = x_label, x_ticks or {}
        self.reference = reference or {}  # row -> the row it is compared with, seed by seed (same seed, same initial nets)


def cell_arguments(table: Table, row: str, seed: int, iterations: int, data: Path, run_dir: Path, extra: list[str]) -> list[str]:
    """The ``datgan fit`` arguments of one cell (without the verb): configs, then seed, length, data, quiet trainer."""
    base = ["--config", str(CONFIGS / table.base)] if table.base else []
    return [
        *base, *table.rows[row], *table.overrides, *extra,
        f"--seed_everything={seed}", f"--model.init_args.max_iterations={iterations}",
        f"--data.init_args.path={data}", f"--data.init_args.seed={seed}", *quiet_trainer(run_dir),
    ]


def check_iterations(model, expected: int) -> None:
    """Refuse a run that stopped early: its scores would be of a shorter run than the table says."""
    if model.generator_iterations != expected:
        raise RuntimeError(f"trained {model.generator_iterations} of {expected} generator iterations")


def fit_from_configs(arguments: list[str], iterations: int | None = None):
    """``datgan fit <arguments>`` in this process, checked to have trained ``iterations`` (default: the
    model's ``max_iterations``) generator iterations; returns the LightningCLI (model, datamodule, trainer)."""
    from datgan_lightning.cli import create_cli

    cli = create_cli(arguments, run=False)
    cli.trainer.fit(cli.model, cli.datamodule)
    check_iterations(cli.model, cli.model.max_iterations if iterations is None else iterations)
    return cli


# ------------------------------------------------------------------------------------------- jobs
def quiet() -> None:
    """No warnings and no Lightning banners (seed, GPU) per fit in a job's process: the progress lines stay readable."""
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    import lightning.pytorch  # noqa: F401 - it sets its loggers' levels on import: quieten them after

    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)


def run_safely(work: Callable[[dict], dict], job: dict, on_failure: dict | None = None) -> dict:
    """``{**job, **work(job), "error": None}``, or ``{**job, **on_failure, "error": "<type>: <message>"}``
    when ``work`` raises: one failed cell must not lose the grid. One thread, no warnings or banners;
    ``seconds`` and ``cpu_seconds`` (what the job costs whatever else runs) are added."""
    torch.set_num_threads(1)
    quiet()
    start, cpu = time.perf_counter(), time.process_time()
    try:
        outcome = {**job, **work(job), "error": None}
    except Exception as err:  # noqa: BLE001 - one failed cell must not lose the grid
        outcome = {**job, **(on_failure or {}), "error": f"{type(err).__name__}: {err}"}
    return {**outcome, "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}


class FinishedCells:
    """The journal of a resumable grid: ``{cell key: outcome}`` in a JSON file, rewritten atomically as
    each cell finishes, so an interrupted grid loses at most the cells that were running. A cell's key
    is a digest of its whole job (arguments, sizes, paths), so a rerun of the same command finds its
    finished cells and a changed command (other iterations, samples, data) recomputes them. Failed
    cells are not kept: a rerun tries them again."""

    def __init__(self, path: Path, restart: bool = False) -> None:
        self.path = Path(path)
        self.cells: dict[str, dict] = {}
        if self.path.is_file() and not restart:
            self.cells = json.loads(self.path.read_text())

    @staticmethod
    def key(job: dict) -> str:
        return hashlib.sha1(json.dumps(job, sort_keys=True, default=str).encode()).hexdigest()

    def get(self, job: dict) -> dict | None:
        return self.cells.get(self.key(job))

    def add(self, job: dict, outcome: dict) -> None:
        if outcome.get("error"):
            return
        self.cells[self.key(job)] = outcome
        text = json.dumps(self.cells, indent=1)  # NaN and inf stay as Python's json writes them: the journal is ours
        write_text(self.path, text)


def run_jobs(run: Callable[[dict], dict], jobs: list[dict], processes: int, start: float, describe: Callable[[dict], str],
             journal: FinishedCells | None = None) -> list[dict]:
    """``run(job)`` for every job not in ``journal`` in ``processes`` spawned processes (in this one when 1),
    printing ``[k/n, minutes since start, ETA] describe(outcome)`` as each finishes and adding it to the
    journal at once; the outcomes (the journal's first, then in finishing order) as they read back from
    JSON, so a resumed and a fresh grid give the same types."""
    runs, todo = [], []
    for job in jobs:
        earlier = journal.get(job) if journal is not None else None
        if earlier is None:
            todo.append(job)
        else:
            runs.append(earlier)
            print(f"[{len(runs)}/{len(jobs)}, finished earlier] {describe(earlier)}", flush=True)
    sitting = time.perf_counter()
    for done, (index, outcome) in enumerate(_outcomes(run, todo, processes), start=1):
        outcome = json.loads(json.dumps(outcome, default=str))
        if journal is not None:
            journal.add(todo[index], outcome)
        runs.append(outcome)
        now = time.perf_counter()
        eta = (now - sitting) / done * (len(todo) - done)
        print(f"[{len(runs)}/{len(jobs)}, {(now - start) / 60:.1f} min, ETA {eta / 60:.1f} min] {describe(outcome)}", flush=True)
    return runs


def _outcomes(run: Callable[[dict], dict], jobs: list[dict], processes: int) -> Iterable[tuple[int, dict]]:
    """``(index of the job, outcome)`` as the jobs finish."""
    if processes == 1 or len(jobs) <= 1:
        yield from enumerate(map(run, jobs))
        return
    with mp.get_context("spawn").Pool(min(processes, len(jobs))) as pool:
        yield from pool.imap_unordered(functools.partial(_indexed, run), enumerate(jobs), chunksize=1)


def _indexed(run: Callable[[dict], dict], indexed_job: tuple[int, dict]) -> tuple[int, dict]:
    index, job = indexed_job
    return index, run(job)


# -------------------------------------------------------------------------------------- reporting
def json_number(value: float | None) -> float | None:
    """``value``, or ``None`` for a missing or non-finite one (strict JSON has no NaN)."""
    return value if value is not None and math.isfinite(value) else None


def finite(values: list) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def mean_std(values: list, digits: int) -> str:
    """``mean ± std`` (sample std; 0 for one value) of the finite values, saying how many are missing."""
    ok = finite(values)
    if not ok:
        return "n/a"
    text = f"{statistics.fmean(ok):.{digits}f} ± {statistics.stdev(ok) if len(ok) > 1 else 0.0:.{digits}f}"
    return text if len(ok) == len(values) else f"{text} ({len(values) - len(ok)} missing)"


def differences(values: list, references: list) -> list[float]:
    """``value − reference`` seed by seed, over the seeds where both exist."""
    return [a - b for a, b in zip(values, references) if a is not None and b is not None]


def paired(rows: dict, row: str, reference: str | None, metric: str = "fid") -> str:
    """``row − reference`` of ``metric`` seed by seed, mean ± std, and in how many seeds the reference is lower."""
    if reference is None or reference not in rows:
        return ""
    diffs = differences(rows[row][metric], rows[reference][metric])
    if not diffs:
        return "n/a"
    spread = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
    return f"{statistics.fmean(diffs):+.2f} ± {spread:.2f} vs {reference} ({sum(d > 0 for d in diffs)}/{len(diffs)} lower)"


# ---------------------------------------------------------------------------------------- writers
def write_text(path: Path, text: str) -> Path:
    from datgan_lightning.utils import write_atomically

    return write_atomically(path, lambda tmp: Path(tmp).write_text(text))


def write_json(path: Path, data: Any, indent: int = 1) -> Path:
    """``data`` as strict JSON (no NaN), written atomically."""
    return write_text(path, json.dumps(data, indent=indent, allow_nan=False) + "\n")


def write_outputs(out: Path, json_path: Path, results: dict, table_md: str) -> Path:
    """The results JSON and the markdown table ``<out>/<json stem>_table.md``, both written atomically."""
    write_json(json_path, results)
    return write_text(out / f"{json_path.stem}_table.md", table_md.rstrip("\n") + "\n")


def figure(**kwargs):
    """A matplotlib ``Figure`` without pyplot (no backend switch, nothing global to close)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def save_figure(fig, path: Path, dpi: int = 80) -> Path:
    """``fig`` as a PNG, written atomically (the library's writer, at the benchmarks' default dpi)."""
    from datgan_lightning.plots import save_figure as save

    return save(fig, path, dpi=dpi)


# ----------------------------------------------------------------------------------- the classifier
def file_digest(path: Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:8]


def prepare_classifier(data: Path, out: Path, epochs: int, threads: int, seed: int | None = None) -> tuple[Path, str, float]:
    """The domain classifier for the labelled .npz ``data`` (trained on its training images, from the
    process's RNG or from ``seed``), cached under ``out``; returns its path, its extractor name and its
    accuracy on the held-out test images (the training images when there are none)."""
    from datgan_lightning.data import NpzImages
    from datgan_lightning.metrics.domain_classifier import classifier_accuracy, save_domain_classifier, train_domain_classifier
    from datgan_lightning.metrics.extractors import DomainClassifierFeatures

    path = Path(out) / f"classifier_{file_digest(data)}_e{epochs}{'' if seed is None else f'_s{seed}'}.pt"
    datamodule = NpzImages(str(data))
    datamodule.setup("fit")
    test = datamodule.test_dataset or datamodule.train_dataset
    if not path.is_file():
        torch.set_num_threads(threads)
        labels = datamodule.train_dataset.tensors[1]
        if (labels < 0).any():
            raise SystemExit(f"{data} has no labels (train_y); the domain classifier needs them.")
        if seed is not None:
            torch.manual_seed(seed)
        classifier = train_domain_classifier(datamodule.train_dataset, num_classes=max(2, int(labels.max()) + 1),
                                             channels=datamodule.image_shape[0], epochs=epochs)
        save_domain_classifier(classifier, path)
    extractor = DomainClassifierFeatures(str(path))
    return path, extractor.name, classifier_accuracy(extractor.classifier, test)
