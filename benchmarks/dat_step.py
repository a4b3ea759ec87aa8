"""Issue 27, studies 1 and 2: what DAT's step does to the images over training, and how much of DAT's effect
on a spectral-norm GAN is the extra power iteration of its attack forwards.

    python -m benchmarks.dat_step --calibrate                    # the sample variant's eps for a comparable step
    python -m benchmarks.dat_step                                # the grid (resumable: rerun the same command)
    python -m benchmarks.dat_step --quick --data tiny.npz --out /tmp/q   # seconds: what the test runs

SNGAN-32 (``datgan_lightning.modules.SNGAN``: hinge, n_dis 5, Adam 2e-4, β = (0, 0.9), linear LR decay over
the run) at ``--width`` on the CIFAR-10 subset, batch ``--batch-size``, trained by Lightning's Trainer as
``datgan fit`` does, one thread per run. Arms (``--arms``):

* ``gan``: the baseline, no perturbation;
* ``matched``: the baseline plus DAT's extra training-mode D forward per D step, no step
  (:class:`~datgan_lightning.adversarial.control.MatchedForwards`; ``configs/perturbation/matched_forwards.yaml``):
  the power iterations of DAT without its perturbation;
* ``dat``: DAT as the authors' code (batch variant, ε = 1, one step);
* ``dat_no_pi``: the same DAT whose attack forwards do not advance spectral norm's ``u``
  (:class:`~datgan_lightning.adversarial.control.DATNoPowerIteration`: the spectral-norm parametrizations in eval mode);
* ``dat_0.6``: batch variant at ε = 0.6 (Fig. 6's best);
* ``dat_sample``: the paper's Algorithm 1 (``variant="sample"``) at ``--eps-sample``, calibrated with
  ``--calibrate`` to the mean step of ``dat`` at iteration 0.

Recorded every ``--record-every`` generator iterations (and at 0), without disturbing training (the probe
restores every buffer it touches: spectral norm's ``u``/``v``, BatchNorm statistics; its latents and reals are
fixed per seed; the global RNG is forked):

* ``own``: the arm's own last logged step (``strategy.log_values()``, the diagnostic the GAN module logs as
  ``perturbation/<key>``): mean/max |δ| per pixel in 8-bit grey levels (1 grey level = 2/255 on [-1, 1]);
* ``probe``: the step that DAT batch ε = 1, batch ε = 0.6 and sample at ``--eps-sample`` would make on the
  arm's current D, on a fixed batch of ``--batch-size`` reals and fakes;
* ``grad_norm_real``/``_fake``: mean per-sample ‖∇ₓ D(x)‖₂ on that batch;
* ``sn_error``: per spectral-normed layer, σ estimate (uᵀWv) / σ exact (``torch.linalg.matrix_norm(W, 2)``) − 1;
* ``fid`` at ``--fid-points`` evenly spaced iterations: domain-classifier FID (``benchmarks/ablation.py``'s
  classifier) of ``--num-fake`` samples against the training images.

Outputs: ``<out>/dat_step_cells.json`` (each finished cell added at once, atomically; a rerun skips those),
``<out>/dat_step_table.md`` and ``<out>/dat_step.png``.
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

ARMS = ("dat", "gan", "matched", "dat_no_pi", "dat_sample", "dat_0.6")  # most informative first: partial grids keep them
GREY = 2 / 255  # one 8-bit grey level on [-1, 1]


def make_perturbation(arm: str, eps_sample: float) -> Any:
    """The perturbation strategy of an arm (``None`` for the baseline)."""
    from datgan_lightning.adversarial import DAT
    from datgan_lightning.adversarial.control import DATNoPowerIteration, MatchedForwards

    return {
        "gan": lambda: None,
        "matched": lambda: MatchedForwards(),
        "dat": lambda: DAT(eps=1.0),
        "dat_no_pi": lambda: DATNoPowerIteration(eps=1.0),
        "dat_0.6": lambda: DAT(eps=0.6),
        "dat_sample": lambda: DAT(eps=eps_sample, variant="sample"),
    }[arm]()


def probe_strategies(eps_sample: float, loss: Any) -> dict[str, Any]:
    from datgan_lightning.adversarial import DAT

    return {"batch_eps1": DAT(eps=1.0, loss=loss), "batch_eps0.6": DAT(eps=0.6, loss=loss),
            "sample": DAT(eps=eps_sample, variant="sample", loss=loss)}


def probe(module: Any, real: torch.Tensor, z: torch.Tensor, eps_sample: float) -> dict[str, Any]:
    """D's input-gradient norm, the steps the probe strategies would make and the spectral-norm errors, on
    ``real`` and ``G(z)`` (G and D in training mode, as a D step sees them), leaving every buffer as it was."""
    from datgan_lightning.adversarial.diagnostics import spectral_norm_errors
    from datgan_lightning.utils import discriminate

    D, G = module.discriminator, module.generator
    buffers = [b for net in (D, G) for b in net.buffers()]
    saved = [b.clone() for b in buffers]
    record: dict[str, Any] = {"sn_error": spectral_norm_errors(D)}
    try:
        with torch.random.fork_rng():
            with torch.no_grad():
                fake = G(z)
            x_real, x_fake = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
            d_real, d_fake = discriminate(D, x_real, x_fake)
            g_real, g_fake = torch.autograd.grad(d_real.sum() + d_fake.sum(), [x_real, x_fake])  # each sample its own gradient
            record["grad_norm_real"] = g_real.flatten(1).norm(dim=1).mean().item()
            record["grad_norm_fake"] = g_fake.flatten(1).norm(dim=1).mean().item()
            record["probe"] = {}
            for name, strategy in probe_strategies(eps_sample, module.loss).items():
                strategy.record = True
                strategy(D, real, fake)
                record["probe"][name] = strategy.log_values()
    finally:
        with torch.no_grad():
            for b, s in zip(buffers, saved):
                b.copy_(s)
    return record


def _study_callback(job: dict[str, Any], real: torch.Tensor, z: torch.Tensor, quality: Any, train_dataset: Any):
    from lightning.pytorch import Callback

    record_at = set(range(0, job["iterations"] + 1, job["record_every"])) | {job["iterations"]}
    fid_at = {round(job["iterations"] * (k + 1) / job["fid_points"]) for k in range(job["fid_points"])}

    class StudyRecords(Callback):
        def __init__(self) -> None:
            self.records: list[dict[str, Any]] = []
            self.last = -1

        def measure(self, module: Any) -> None:
            iteration = module.generator_iterations
            if iteration == self.last or iteration not in record_at | fid_at:
                return
            self.last = iteration
            entry = {"iteration": iteration, **probe(module, real, z, job["eps_sample"])}
            if module.perturbation is not None:
                entry["own"] = module.perturbation.log_values()
            if iteration in fid_at:
                with torch.random.fork_rng():
                    scores = quality(module.sampling_generator, {"train": train_dataset}, data_key=job["data_key"])
                entry["fid"] = scores[f"fid/train/{quality.extractor.name}"]
            self.records.append(entry)

        def on_train_start(self, trainer: Any, module: Any) -> None:
            self.measure(module)

        def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            if module.discriminator_steps % module.n_dis == 0:
                self.measure(module)

    return StudyRecords()


def run_cell(job: dict[str, Any]) -> dict[str, Any]:
    """Train one (arm, seed) cell and record its measures; a failure is reported, never raised."""
    return run_safely(_train, job, on_failure={"records": []})


def _train(job: dict[str, Any]) -> dict[str, Any]:
    import lightning.pytorch as pl

    from datgan_lightning.data import NpzImages
    from datgan_lightning.metrics import DomainClassifierFeatures, ImageQuality
    from datgan_lightning.modules import SNGAN

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    pl.seed_everything(job["seed"], verbose=False)
    module = SNGAN(resolution=32, ngf=job["width"], ndf=job["width"], max_iterations=job["iterations"],
                   perturbation=make_perturbation(job["arm"], job["eps_sample"]))
    data = NpzImages(job["data"], batch_size=job["batch_size"], seed=job["seed"])
    data.setup("fit")
    images = data.train_dataset.tensors[0]
    fixed = torch.Generator().manual_seed(10_000 + job["seed"])
    real = images[torch.randperm(len(images), generator=fixed)[: job["batch_size"]]]
    z = torch.randn(job["batch_size"], module.generator.latent_dim, generator=fixed)
    quality = ImageQuality(DomainClassifierFeatures(job["classifier"]), num_fake={"train": job["num_fake"]},
                           batch_size=250, cache_dir=job["cache_dir"])
    callback = _study_callback(job, real, z, quality, data.train_dataset)
    trainer = pl.Trainer(accelerator="cpu", max_epochs=-1, logger=False, callbacks=[callback], enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=module.n_dis)
    trainer.fit(module, data)
    return {"records": callback.records}


# ------------------------------------------------------------------------------------ calibration
def calibrate_eps(make_module: Any, data: Path, batch_size: int, seeds: int, title: str) -> dict[str, float]:
    """Mean step (grey levels, reals and fakes) of DAT batch ε = 1 and sample ε = 1 on freshly initialised
    nets ``make_module()`` of seeds 0..seeds-1, on ``batch_size`` reals and fakes; the sample ε with the batch
    variant's mean step is their ratio (the step is linear in ε below the clamps)."""
    from datgan_lightning.data import NpzImages

    torch.set_num_threads(1)
    datamodule = NpzImages(str(data), batch_size=batch_size)
    datamodule.setup("fit")
    images = datamodule.train_dataset.tensors[0]
    batch, sample = [], []
    for seed in range(seeds):
        torch.manual_seed(seed)
        module = make_module()
        fixed = torch.Generator().manual_seed(10_000 + seed)
        real = images[torch.randperm(len(images), generator=fixed)[:batch_size]]
        z = torch.randn(batch_size, module.generator.latent_dim, generator=fixed)
        steps = probe(module, real, z, eps_sample=1.0)["probe"]
        batch.append(mean_over_positions(steps["batch_eps1"], "mean_grey"))
        sample.append(mean_over_positions(steps["sample"], "mean_grey"))
    result = {"batch_eps1_mean_grey": statistics.fmean(batch), "sample_eps1_mean_grey": statistics.fmean(sample)}
    result["eps_sample"] = result["batch_eps1_mean_grey"] / result["sample_eps1_mean_grey"]
    print(f"calibration ({title}, batch {batch_size}, seeds 0-{seeds - 1}, fresh nets): mean step batch eps=1 "
          f"{result['batch_eps1_mean_grey']:.4f} grey levels, sample eps=1 {result['sample_eps1_mean_grey']:.4f}: "
          f"sample eps for the same mean step {result['eps_sample']:.4f}", flush=True)
    return result


# -------------------------------------------------------------------------------------- reporting
def mean_over_positions(values: dict[str, float] | None, kind: str) -> float | None:
    """The mean over reals and fakes of ``<position>/<kind>`` (``None`` when not recorded)."""
    found = [values[k] for k in (f"real/{kind}", f"fake/{kind}") if values and k in values]
    return statistics.fmean(found) if found else None


def own_step(entry: dict[str, Any], kind: str = "mean_grey") -> float | None:
    return mean_over_positions(entry.get("own"), kind)


def first_iteration_at_one_grey(records: list[dict[str, Any]], kind: str) -> int | None:
    """The first recorded iteration whose own step (``kind``, max over reals and fakes) reaches one grey level."""
    for entry in records:
        own = entry.get("own") or {}
        values = [own[k] for k in (f"real/{kind}", f"fake/{kind}") if k in own]
        if values and max(values) >= 1.0:
            return entry["iteration"]
    return None


def _fmt(values: list[float | None], digits: str = ".3g") -> str:
    ok = [v for v in values if v is not None and math.isfinite(v)]
    if not ok:
        return "n/a"
    spread = f" ± {statistics.stdev(ok):{digits}}" if len(ok) > 1 else ""
    return f"{statistics.fmean(ok):{digits}}{spread}"


def _last(records: list[dict[str, Any]], key: str) -> Any:
    found = [e[key] for e in records if key in e]
    return found[-1] if found else None


def summary_table(cells: list[dict[str, Any]], arms: list[str]) -> str:
    """One row per arm, mean ± sd over the finished seeds."""
    lines = ["| arm | seeds | own step, mean grey, it 0 | own step, mean grey, end | own step, max grey, end | first it. own max ≥ 1 grey | "
             "‖∇D‖ reals, end | FID, end | FID − gan, same seed | FID − matched, same seed | mean |σ err|, end | s / it |",
             "| --- |" + " --- |" * 11]
    ok = [c for c in cells if not c["error"]]
    by_arm = {arm: sorted((c for c in ok if c["arm"] == arm), key=lambda c: c["seed"]) for arm in arms}
    fid_end = {(c["arm"], c["seed"]): _last(c["records"], "fid") for c in ok}

    def paired(arm: str, reference: str) -> str:
        if arm == reference:
            return ""
        diffs = [fid_end[(arm, c["seed"])] - fid_end[(reference, c["seed"])] for c in by_arm[arm]
                 if fid_end.get((reference, c["seed"])) is not None and fid_end[(arm, c["seed"])] is not None]
        return _fmt(diffs, "+.2f") + f" (n={len(diffs)})" if diffs else "n/a"

    for arm in arms:
        runs = by_arm[arm]
        if not runs:
            continue
        it0 = [own_step(r["records"][0]) if r["records"] else None for r in runs]
        end_mean = [own_step(r["records"][-1]) for r in runs]
        end_max = [own_step(r["records"][-1], "max_grey") for r in runs]
        first = [first_iteration_at_one_grey(r["records"], "max_grey") for r in runs]
        sn = [statistics.fmean(abs(v) for v in r["records"][-1]["sn_error"].values()) for r in runs]
        lines.append(
            f"| {arm} | {len(runs)} | {_fmt(it0)} | {_fmt(end_mean)} | {_fmt(end_max)} | "
            f"{', '.join('never' if f is None else str(f) for f in first) if any(own_step(e) is not None for e in runs[0]['records']) else 'n/a'} | "
            f"{_fmt([r['records'][-1]['grad_norm_real'] for r in runs])} | {_fmt([fid_end[(arm, r['seed'])] for r in runs], '.2f')} | "
            f"{paired(arm, 'gan')} | {paired(arm, 'matched')} | {_fmt(sn, '.2e')} | "
            f"{_fmt([r['seconds'] / r['iterations'] for r in runs], '.2f')} |"
        )
    return "\n".join(lines)


def probe_table(cells: list[dict[str, Any]]) -> str:
    """The steps the three DAT settings would make on the authors' DAT-trained D (arm ``dat``), by iteration."""
    runs = [c for c in cells if c["arm"] == "dat" and not c["error"]]
    if not runs:
        return ""
    iterations = sorted({e["iteration"] for r in runs for e in r["records"]})
    lines = ["| iteration | batch ε=1 mean / max grey | batch ε=0.6 mean / max grey | sample mean / max grey | ‖∇D‖ reals / fakes |",
             "| --- | --- | --- | --- | --- |"]
    for it in iterations:
        entries = [e for r in runs for e in r["records"] if e["iteration"] == it]
        cols = []
        for name in ("batch_eps1", "batch_eps0.6", "sample"):
            cols.append(f"{_fmt([mean_over_positions(e['probe'][name], 'mean_grey') for e in entries])} / "
                        f"{_fmt([max(e['probe'][name].get('real/max_grey', 0), e['probe'][name].get('fake/max_grey', 0)) for e in entries])}")
        grads = f"{_fmt([e['grad_norm_real'] for e in entries])} / {_fmt([e['grad_norm_fake'] for e in entries])}"
        lines.append(f"| {it} | " + " | ".join(cols) + f" | {grads} |")
    return "\n".join(lines)


def save_plot(cells: list[dict[str, Any]], arms: list[str], path: Path) -> None:
    """Four panels over generator iterations, one line per seed, a colour per arm: DAT's own mean step (grey
    levels, log scale, the 1-grey-level line), D's input-gradient norm on reals, FID, mean |σ error|."""
    from matplotlib.figure import Figure

    from datgan_lightning.utils import write_atomically

    fig = Figure(figsize=(16, 4))
    axes = fig.subplots(1, 4)
    colours = dict(zip(ARMS, ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown")))
    for cell in (c for c in cells if not c["error"] and c["arm"] in arms):
        recs, colour = cell["records"], colours.get(cell["arm"], "black")
        label = cell["arm"] if cell["seed"] == min(c["seed"] for c in cells if c["arm"] == cell["arm"]) else None
        steps = [(e["iteration"], own_step(e), own_step(e, "max_grey")) for e in recs if own_step(e)]
        if steps:
            axes[0].plot([s[0] for s in steps], [s[1] for s in steps], color=colour, label=label, alpha=0.8)
            axes[0].plot([s[0] for s in steps], [s[2] for s in steps], color=colour, linestyle=":", alpha=0.8)
        axes[1].plot([e["iteration"] for e in recs], [e["grad_norm_real"] for e in recs], color=colour, label=label, alpha=0.8)
        fids = [(e["iteration"], e["fid"]) for e in recs if "fid" in e]
        if fids:
            axes[2].plot(*zip(*fids), marker="o", color=colour, label=label, alpha=0.8)
        axes[3].plot([e["iteration"] for e in recs], [statistics.fmean(abs(v) for v in e["sn_error"].values()) for e in recs],
                     color=colour, label=label, alpha=0.8)
    axes[0].axhline(1.0, color="black", linestyle="--", linewidth=1, label="1 grey level")
    axes[0].set_yscale("log")
    axes[3].set_yscale("log")
    titles = ("DAT's own step: mean (max dotted) |δ|, grey levels", "mean ‖∇x D(x)‖ on reals", "domain-classifier FID", "mean |σ estimate / σ − 1| over layers")
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("generator iteration", fontsize=8)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=80, format="png"))


# ------------------------------------------------------------------------------------------- main
def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per arm (default 3)")
    parser.add_argument("--jobs", type=count, default=1, help="parallel processes, one thread each (default 1)")
    parser.add_argument("--iterations", type=int, default=150, help="generator iterations per run (default 150)")
    parser.add_argument("--width", type=int, default=16, help="SNGAN ngf = ndf (default 16; Mimicry 256/128)")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch (default 32; the authors' 64)")
    parser.add_argument("--eps-sample", type=float, default=0.064, help="eps of the sample arm (default 0.064: --calibrate at width 16, batch 32)")
    parser.add_argument("--record-every", type=int, default=10, help="generator iterations between records (default 10)")
    parser.add_argument("--fid-points", type=int, default=3, help="FID at this many evenly spaced iterations (default 3)")
    parser.add_argument("--num-fake", type=int, default=1000, help="samples per FID (default 1000)")
    parser.add_argument("--classifier-epochs", type=int, default=3, help="domain classifier epochs (default 3)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/dat_step"))
    parser.add_argument("--calibrate", action="store_true", help="only print the sample eps with batch eps=1's mean step")
    parser.add_argument("--report-only", action="store_true", help="write the table and plot from the finished cells, run nothing")
    parser.add_argument("--quick", action="store_true", help="tests: 2 iterations at width 4, batch 8, tiny scoring, 1 seed")
    args = parser.parse_args(argv)
    for option in ("seeds", "iterations", "width", "batch_size", "record_every", "fid_points", "num_fake", "classifier_epochs"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')}={getattr(args, option)} must be >= 1")
    if not args.eps_sample > 0:
        parser.error(f"--eps-sample={args.eps_sample} must be > 0")
    if not args.data.is_file():
        parser.error(f"--data={args.data} does not exist: the offline CIFAR-10 subset lives in ../shared/data/cifar10_subset.npz")
    if args.quick:
        args.seeds, args.iterations, args.width, args.batch_size = 1, 2, 4, 8
        args.record_every, args.fid_points, args.num_fake, args.classifier_epochs = 1, 1, 16, 1
    args.data = args.data.resolve()
    return args


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse(argv)
    if args.calibrate:
        from datgan_lightning.modules import SNGAN

        return [calibrate_eps(lambda: SNGAN(resolution=32, ngf=args.width, ndf=args.width), args.data, args.batch_size, args.seeds,
                              f"SNGAN-32 width {args.width}")]
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    classifier, name, accuracy = prepare_classifier(args.data, args.out, args.classifier_epochs, 1)
    print(f"domain classifier {name}: held-out accuracy {accuracy:.3f}", flush=True)
    settings = {"iterations": args.iterations, "width": args.width, "batch_size": args.batch_size, "eps_sample": args.eps_sample,
                "record_every": args.record_every, "fid_points": args.fid_points, "num_fake": args.num_fake}
    jobs = []
    for seed in range(args.seeds):  # seed-major: a partial grid covers every arm
        for arm in args.arms:
            key = f"{arm} seed={seed} " + " ".join(f"{k}={v}" for k, v in settings.items()) + f" data={file_digest(args.data)} classifier={name}"
            jobs.append({"key": key, "arm": arm, "seed": seed, **settings, "data": str(args.data), "classifier": str(classifier),
                         "cache_dir": str(args.out / "real_features"), "data_key": f"dat_step-{file_digest(args.data)}"})
    journal = FinishedCells(args.out / "dat_step_cells.json")
    cells = ([c for c in map(journal.get, jobs) if c is not None] if args.report_only
             else run_jobs(run_cell, jobs, args.jobs, start, _describe, journal))
    report(cells, args.arms, args.out, settings, time.perf_counter() - start)
    return cells


def report(cells: list[dict[str, Any]], arms: list[str], out: Path, settings: dict[str, Any], wall: float) -> None:
    from datgan_lightning.utils import write_atomically

    text = (f"SNGAN-32 width {settings['width']}, batch {settings['batch_size']}, {settings['iterations']} generator iterations, "
            f"sample eps {settings['eps_sample']}; mean ± sd over the finished seeds; wall of this invocation {wall / 60:.1f} min.\n\n"
            + summary_table(cells, arms) + "\n\nSteps the DAT settings would make on the `dat` arm's D (probe):\n\n" + probe_table(cells))
    print(text, flush=True)
    for cell in cells:
        if cell["error"]:
            print(f"FAILED {cell['key']}: {cell['error']}")
    write_atomically(out / "dat_step_table.md", lambda tmp: Path(tmp).write_text(text + "\n"))
    save_plot(cells, arms, out / "dat_step.png")
    print(f"cells: {out / 'dat_step_cells.json'}\ntable: {out / 'dat_step_table.md'}\nplot: {out / 'dat_step.png'}")


def _describe(cell: dict[str, Any]) -> str:
    if cell["error"]:
        return f"{cell['arm']} seed {cell['seed']}: FAILED {cell['error']}"
    last = cell["records"][-1]
    step = own_step(last)
    return (f"{cell['arm']} seed {cell['seed']}: FID {last.get('fid', float('nan')):.2f}, own step "
            f"{'-' if step is None else f'{step:.4f}'} grey, ‖∇D‖ {last['grad_norm_real']:.3g}, {cell['seconds'] / cell['iterations']:.2f} s/it")


if __name__ == "__main__":
    main()
