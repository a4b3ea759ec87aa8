"""What DAT really costs: whole generator iterations of SNGAN-32, timed side by side in one process.

    python -m benchmarks.speed --quick                 # batch 16, a few iterations: under 5 minutes here
    python -m benchmarks.speed --batch 64 --json out.json
    python -m benchmarks.speed --device cuda --bf16 --channels-last --compile
    python -m benchmarks.speed --memory-formats        # our DAT loop in NCHW vs channels_last

One generator iteration is n_dis (5) D steps, each on a fresh real batch, plus one G step, with
Mimicry's SNGAN-32 nets (G 256 channels, D 128), hinge loss and Adam, on random images in [-1, 1]
(the content does not change the cost). Five runs:

- ``baseline``, ``dat``, ``asgan``: the library's Lightning modules (``SNGAN``, ``SNGAN`` +
  ``DAT()``, ``ASGAN``) under a ``Trainer``, as a user runs them;
- ``dat_plain``: a plain PyTorch loop with the same nets, data and math as ``dat`` (our ``DAT``
  strategy, joint D forwards, the same optimizers and LR decay), no Lightning;
- ``dat_authors``: the same plain loop with the D step written the way the authors' code does it
  (METHODS.md): separate clean forwards of D on the real and the fake batch for the targets, one D
  forward and input gradient per batch for the attack, then the training forward on each perturbed
  batch, which still requires grad, so its backward also computes input gradients.

How they are interleaved, so that a shared machine's drift (this VM's speed wanders by 20%
over minutes) hits compared runs alike: each round runs the three Lightning runs one after the
other (order reversed every other round), and within the ``dat`` run, after each of its generator
iterations, one iteration of each plain loop (their order alternating); so ``dat``, ``dat_plain``
and ``dat_authors`` are compared iteration by iteration.

Ratios of median times: dat/baseline, dat_plain/dat_authors (ours over the authors' formulation,
both without Lightning), asgan/baseline, dat/dat_plain (Lightning over plain). The parts of an
iteration are timed too, interleaved in short repeats on fixed inputs: G's forward, the D update
(one D loss and backward: baseline, ours, the authors'), G's step; whole iterations composed from
them give the DAT/baseline and ours/authors ratios with far less drift than whole iterations do.
Peak memory of DAT vs baseline is measured in a fresh subprocess per method (CUDA: max allocated;
CPU: peak RSS minus the RSS before the first iteration). Prints a markdown table; ``--json PATH``
writes the ratios and raw timings.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import lightning as L
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.harness import REPO, write_text
from datgan_lightning.adversarial import DAT
from datgan_lightning.callbacks import IterationTimer
from datgan_lightning.callbacks.timing import summarize
from datgan_lightning.modules import ASGAN, GAN, SNGAN
from datgan_lightning.modules.optim import linear_decay_schedule
from datgan_lightning.nets.sngan import SNGANDiscriminator32, SNGANGenerator32
from datgan_lightning.objective import GANObjective
from datgan_lightning.utils import logits

LIGHTNING_METHODS = ("baseline", "dat", "asgan")
PLAIN_METHODS = ("dat_plain", "dat_authors")
METHODS = LIGHTNING_METHODS + PLAIN_METHODS
RATIOS = {  # name: (numerator, denominator)
    "dat_over_baseline": ("dat", "baseline"),
    "ours_over_authors": ("dat_plain", "dat_authors"),
    "asgan_over_baseline": ("asgan", "baseline"),
    "lightning_over_plain": ("dat", "dat_plain"),
}
HORIZON = 10**9  # LR decay horizon: decay runs as in training but never reaches zero here


# ------------------------------------------------------------------------------------ setup
def build_module(method: str, args: argparse.Namespace) -> GAN:
    """The Lightning module of ``method`` with freshly seeded (so identical) SNGAN-32 nets."""
    torch.manual_seed(0)
    common = dict(n_dis=args.n_dis, max_iterations=HORIZON, channels_last=args.channels_last)
    if method == "asgan":
        model = ASGAN(generator=SNGANGenerator32(), discriminator=SNGANDiscriminator32(), loss="hinge",
                      betas_g=(0.0, 0.9), betas_d=(0.0, 0.9), **common)
    else:
        model = SNGAN(resolution=32, perturbation=DAT() if method.startswith("dat") else None, **common)
    if args.compile:
        model.generator.compile()
        model.discriminator.compile()
    return model


def make_loader(args: argparse.Namespace) -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    batches = args.n_dis * (1 + args.warmup + args.iterations)  # one epoch holds a round
    images = torch.rand(args.batch * batches, 3, 32, 32, generator=generator) * 2 - 1
    return DataLoader(TensorDataset(images), batch_size=args.batch, shuffle=True, drop_last=True, generator=generator)


def endless(loader: DataLoader) -> Iterator[Tensor]:
    while True:
        for (batch,) in loader:
            yield batch


# ---------------------------------------------------------------------- plain PyTorch loop
def authors_dat_discriminator_update(D: nn.Module, real: Tensor, fake: Tensor, loss, eps: float = 1.0) -> Tensor:
    """Backpropagates D's DAT loss computed the way the authors' code does (the reference for
    ``ours_over_authors``) into D's gradients and returns the loss, detached.

    The authors make one backward over both training forwards; here each perturbed batch's forward
    is followed by its own backward: the same gradients and the same work, but torch.compile cannot
    backpropagate through a spectral-norm D that ran two training-mode forwards (the second power
    iteration bumps the version of a buffer the first graph saved; eager clones it), so
    ``--compile`` would otherwise fail here.
    """
    target_for_real = logits(D, fake).detach().mean()  # clean forwards, autograd on, targets detached
    target_for_fake = logits(D, real).detach().mean()
    perturbed = []
    for x, target in ((real, target_for_real), (fake, target_for_fake)):
        x = x.detach().requires_grad_(True)  # one attack forward per batch
        (grad,) = torch.autograd.grad((logits(D, x).mean() - target).abs(), x)
        perturbed.append((x - eps * grad.clamp(-1, 1)).clamp(-1, 1).detach().requires_grad_(True))
    d_loss = 0
    for x, g in zip(perturbed, (loss.g1, loss.g2)):  # -(g1 + g2): the terms of loss.discriminator_loss
        term = -g(logits(D, x)).mean()  # x still requires grad: this backward also computes input gradients
        term.backward()
        d_loss = d_loss + term.detach()
    return d_loss


class PlainLoop:
    """The Lightning module's math without Lightning: same nets, optimizers, LR decay, and the module's own
    objective (:class:`~datgan_lightning.objective.GANObjective`) for D's and G's losses."""

    def __init__(self, model: GAN, authors: bool, device: torch.device, bf16: bool) -> None:
        self.G, self.D = model.generator.to(device), model.discriminator.to(device)
        self.objective, self.n_dis, self.authors = model.objective, model.n_dis, authors
        self.max_iterations = HORIZON
        self.in_training_layout = model.in_training_layout
        self.device = device
        self.autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
        hp = model.hparams
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=hp.lr_d, betas=tuple(hp.betas_d))
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=hp.lr_g, betas=tuple(hp.betas_g))
        self.schedulers = [linear_decay_schedule(opt, self) for opt in (self.opt_d, self.opt_g)]

    def discriminator_step(self, real: Tensor) -> None:
        with torch.no_grad(), self.autocast:
            fake = self.G(self.G.sample_latent(len(real), self.device))
        self.opt_d.zero_grad(set_to_none=True)
        with self.autocast:
            if self.authors:
                authors_dat_discriminator_update(self.D, real, fake, self.objective.loss)  # backpropagates itself
            else:
                d_loss, _, _ = self.objective.discriminator_loss(self.D, real, fake)
        if not self.authors:
            d_loss.backward()
        self.opt_d.step()

    def generator_step(self, n: int) -> None:
        self.D.requires_grad_(False)  # as Lightning's optimizer toggling does: no D gradients in G's step
        with self.autocast:
            g_loss = self.objective.generator_loss(self.D, self.G(self.G.sample_latent(n, self.device)))
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        for scheduler in self.schedulers:
            scheduler.step()

    def run(self, batches: Iterator[Tensor], iterations: int) -> None:
        for _ in range(iterations):
            for _ in range(self.n_dis):
                real = self.in_training_layout(next(batches).to(self.device, non_blocking=True))  # as training_step
                self.discriminator_step(real)
            self.generator_step(len(real))


# ------------------------------------------------------------------------------------ timing
def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PairedIterations(IterationTimer):
    """Times the Lightning ``dat`` run and, after each of its generator iterations, one iteration of
    each plain loop (``dat_plain``, ``dat_authors``, their order alternating): the three runs whose
    ratios the targets compare are interleaved iteration by iteration, so the drift of a shared
    machine hits them alike. The Lightning clock restarts after the plain iterations, so they are
    not counted in its time; plain iterations are timed whenever the Lightning one is."""

    def __init__(self, loops: dict[str, PlainLoop], batches: Iterator[Tensor], warmup: int, device: torch.device) -> None:
        super().__init__(warmup)
        self.loops, self.batches, self.device = loops, batches, device
        self.plain_times: dict[str, list[float]] = {name: [] for name in loops}
        self._plain_iterations = 0

    def on_train_batch_end(self, trainer: L.Trainer, module: GAN, outputs, batch, batch_idx: int) -> None:
        seen, timed = self._seen, len(self.times)
        super().on_train_batch_end(trainer, module, outputs, batch, batch_idx)
        if module.generator_iterations == seen:
            return
        names = list(self.loops)
        for name in names if self._plain_iterations % 2 == 0 else names[::-1]:
            synchronize(self.device)
            start = time.perf_counter()
            self.loops[name].run(self.batches, 1)
            synchronize(self.device)
            if len(self.times) > timed:
                self.plain_times[name].append(time.perf_counter() - start)
        self._plain_iterations += 1
        self._last = time.perf_counter()


def trainer(args: argparse.Namespace, iterations: int, callbacks: list) -> L.Trainer:
    return L.Trainer(
        accelerator="gpu" if args.device == "cuda" else "cpu", devices=1, max_epochs=1,
        limit_train_batches=iterations * args.n_dis,  # not max_steps: AS-GAN makes 2 n_dis + 1 steps per iteration
        precision="bf16-mixed" if args.bf16 else "32-true", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks,
    )


def time_round(method: str, state: dict, args: argparse.Namespace, loader: DataLoader) -> dict[str, list[float]]:
    """``args.iterations`` timed generator iterations of ``method`` after ``1 + args.warmup`` untimed
    ones; the ``dat`` round also times the plain loops, interleaved with it."""
    total = 1 + args.warmup + args.iterations
    if method != "dat":
        timer = IterationTimer(warmup=args.warmup)
        trainer(args, total, [timer]).fit(state[method], loader)
        return {method: timer.times}
    plain = {name: state[name] for name in PLAIN_METHODS}
    timer = PairedIterations(plain, endless(loader), args.warmup, torch.device(args.device))
    trainer(args, total, [timer]).fit(state[method], loader)
    return {method: timer.times, **timer.plain_times}


def build_state(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    state = {method: build_module(method, args) for method in LIGHTNING_METHODS}
    for method in PLAIN_METHODS:
        state[method] = PlainLoop(build_module(method, args), authors=method == "dat_authors", device=device, bf16=args.bf16)
    return state


def time_interleaved(steps: dict, repeats: int, device: torch.device) -> dict:
    """Median seconds of each step, running them in turn ``repeats`` times after one warm-up round."""
    times: dict = {name: [] for name in steps}
    for repeat in range(repeats + 1):
        for name, step in steps.items():
            synchronize(device)
            start = time.perf_counter()
            step()
            synchronize(device)
            if repeat:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def time_iteration_parts(args: argparse.Namespace, repeats: int) -> dict:
    """Median seconds of the parts of a generator iteration on fixed inputs, all interleaved: G's
    forward without gradients; one D loss + backward for the baseline, our DAT and the authors'
    formulation (``d_update``: the part DAT changes); G's loss + backward through a frozen D
    (``g_step``). No optimizer steps. Many short interleaved repeats average this machine's
    drift out, so whole iterations composed from the parts, ``n_dis (g_forward + d_update) + g_step``,
    are the stable estimate of the directly measured whole-iteration ratios."""
    device = torch.device(args.device)
    module = build_module("dat_plain", args)
    G, D, ours, loss = module.generator.to(device), module.discriminator.to(device), module.objective, module.loss
    baseline = GANObjective(loss)  # the same objective without the perturbation
    generator = torch.Generator().manual_seed(1)
    real, fake = (module.in_training_layout(torch.rand(args.batch, 3, 32, 32, generator=generator).to(device) * 2 - 1) for _ in range(2))
    z = G.sample_latent(args.batch, device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if args.bf16 else nullcontext()

    def g_forward():
        with torch.no_grad():
            G(z)

    def g_step():
        D.requires_grad_(False)
        ours.generator_loss(D, G(z)).backward()
        D.requires_grad_(True)

    steps = {
        "g_forward": g_forward,
        "baseline": lambda: baseline.discriminator_loss(D, real, fake)[0].backward(),
        "ours": lambda: ours.discriminator_loss(D, real, fake)[0].backward(),
        "authors": lambda: authors_dat_discriminator_update(D, real, fake, loss),
        "g_step": g_step,
    }

    def run(step):
        with autocast:
            step()
        G.zero_grad(set_to_none=True)
        D.zero_grad(set_to_none=True)

    times = time_interleaved({name: (lambda step=step: run(step)) for name, step in steps.items()}, repeats, device)
    return {
        "g_forward": times["g_forward"],
        "g_step": times["g_step"],
        "d_update": {name: times[name] for name in ("baseline", "ours", "authors")},
    }


def compare_memory_formats(args: argparse.Namespace, repeats: int) -> dict:
    """Median seconds of our plain loop's D step (G forward + DAT update) and G step with the nets and
    images in the default and in the channels_last memory format, interleaved; and the ratio of
    whole iterations (n_dis D steps + 1 G step) built from them."""
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(1)
    real = torch.rand(args.batch, 3, 32, 32, generator=generator).to(device) * 2 - 1
    loops, batches = {}, {}
    for layout in ("default", "channels_last"):
        layout_args = argparse.Namespace(**{**vars(args), "channels_last": layout == "channels_last"})
        loops[layout] = PlainLoop(build_module("dat_plain", layout_args), authors=False, device=device, bf16=args.bf16)
        batches[layout] = loops[layout].in_training_layout(real)
    steps = {}
    for layout, loop in loops.items():
        steps[layout, "d_step"] = lambda loop=loop, layout=layout: loop.discriminator_step(batches[layout])
        steps[layout, "g_step"] = lambda loop=loop: loop.generator_step(args.batch)
    times = time_interleaved(steps, repeats, device)
    medians = {layout: {part: times[layout, part] for part in ("d_step", "g_step")} for layout in loops}
    iteration = {layout: args.n_dis * m["d_step"] + m["g_step"] for layout, m in medians.items()}
    return {"seconds": medians, "channels_last_over_default": iteration["channels_last"] / iteration["default"]}


# ------------------------------------------------------------------------------------ memory
def peak_memory_probe(method: str, args: argparse.Namespace) -> int:
    """Bytes of peak memory one method's iterations add, measured in this (fresh) process."""
    device = torch.device(args.device)
    model = build_module("dat_plain" if method == "dat" else "baseline", args)
    loop = PlainLoop(model, authors=False, device=device, bf16=args.bf16)
    batches = endless(make_loader(args))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        loop.run(batches, 1)
        return torch.cuda.max_memory_allocated(device) - before
    before = _rss_bytes()
    loop.run(batches, 1)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before  # Linux reports KiB


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_memory(method: str, argv: list[str]) -> int:
    probe = [sys.executable, "-m", "benchmarks.speed", *argv, "--memory-probe", method]
    out = subprocess.run(probe, cwd=REPO, capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


# -------------------------------------------------------------------------------------- main
def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 64; 16 with --quick)")
    parser.add_argument("--n-dis", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=None, help="timed generator iterations per method and round (default 4; 1 with --quick)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of all methods (default 3; 2 with --quick)")
    parser.add_argument("--part-repeats", type=int, default=None, help="interleaved repeats of each part of an iteration (default rounds x iterations x n_dis; 5 with --quick)")
    parser.add_argument("--warmup", type=int, default=0, help="untimed generator iterations per round besides the first, which is never timed")
    parser.add_argument("--quick", action="store_true", help="batch 16, 2 rounds of 1 timed iteration: about 4 minutes on 2 CPU cores")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (Lightning: precision='bf16-mixed')")
    parser.add_argument("--channels-last", action="store_true", help="nets and images in channels_last memory format (the modules' channels_last=True)")
    parser.add_argument("--compile", action="store_true", help="torch.compile G and D (nn.Module.compile)")
    parser.add_argument("--memory-formats", action="store_true", help="only compare our DAT loop's D and G steps in the default and the channels_last memory format")
    parser.add_argument("--skip-memory", action="store_true", help="do not measure peak memory (saves two subprocess runs)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--memory-probe", choices=("baseline", "dat"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = {"batch": (16, 64), "iterations": (1, 4), "rounds": (2, 3)}  # (with --quick, without)
    for option, (quick, full) in defaults.items():
        if getattr(args, option) is None:  # an explicit 0 is not a default: it is refused below
            setattr(args, option, quick if args.quick else full)
    if args.part_repeats is None:
        args.part_repeats = 5 if args.quick else args.rounds * args.iterations * args.n_dis
    for option in ("batch", "n_dis", "iterations", "rounds", "part_repeats"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')}={getattr(args, option)} must be >= 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is visible to torch; run on a GPU machine or use --device cpu")
    if args.bf16 and args.device == "cpu":
        parser.error("--bf16 is for --device cuda (bf16 on this CPU would time the emulation, not the method)")
    return args


def setup_line(args: argparse.Namespace) -> str:
    return (
        f"SNGAN-32, batch {args.batch}, n_dis {args.n_dis}, {args.device}"
        + (f" ({args.threads} threads)" if args.device == "cpu" else "")
        + "".join(f", {flag}" for flag in ("bf16", "channels_last", "compile") if getattr(args, flag))
    )


def table(results: dict, args: argparse.Namespace) -> str:
    rows = [
        setup_line(args) + f"; {args.rounds} rounds x {args.iterations} timed iterations per method",
        "",
        "| run | s / generator iteration (median) | IQR (s) | timed iterations |",
        "| --- | --- | --- | --- |",
    ]
    for method, t in results["timings"].items():
        rows.append(f"| {method} | {t['median']:.3f} | {t['q1']:.3f}-{t['q3']:.3f} | {t['n']} |")
    rows += ["", "| measure | ratio |", "| --- | --- |"]
    for name, (num, den) in RATIOS.items():
        rows.append(f"| {name} ({num} / {den}) | {results[name]:.3f} |")
    d = results["d_update_seconds"]
    rows.append(f"| D update only, no G forward: ours / authors ({d['ours']:.3f} / {d['authors']:.3f} s) | {results['d_update_ours_over_authors']:.3f} |")
    rows.append(f"| D update only, no G forward: DAT / baseline ({d['ours']:.3f} / {d['baseline']:.3f} s) | {results['d_update_dat_over_baseline']:.3f} |")
    c = results["part_seconds"]["composed_iteration"]
    rows.append(f"| whole iteration composed from interleaved parts: DAT / baseline ({c['ours']:.3f} / {c['baseline']:.3f} s) | {results['composed_dat_over_baseline']:.3f} |")
    rows.append(f"| whole iteration composed from interleaved parts: ours / authors ({c['ours']:.3f} / {c['authors']:.3f} s) | {results['composed_ours_over_authors']:.3f} |")
    if results.get("dat_peak_memory_ratio") is not None:
        mib = results["peak_memory_bytes"]
        rows.append(f"| dat_peak_memory_ratio (dat / baseline: {mib['dat'] / 2**20:.0f} / {mib['baseline'] / 2**20:.0f} MiB) "
                    f"| {results['dat_peak_memory_ratio']:.3f} |")
    return "\n".join(rows)


def memory_format_table(results: dict, args: argparse.Namespace) -> str:
    rows = [setup_line(args) + f"; our DAT loop, {args.rounds * args.iterations * args.n_dis} interleaved repeats", "",
            "| memory format | D step (G forward + DAT update), s | G step, s |", "| --- | --- | --- |"]
    rows += [f"| {layout} | {m['d_step']:.3f} | {m['g_step']:.3f} |" for layout, m in results["seconds"].items()]
    rows += ["", f"whole iteration ({args.n_dis} D steps + 1 G step), channels_last / default: {results['channels_last_over_default']:.3f}"]
    return "\n".join(rows)


def report(results: dict, text: str, args: argparse.Namespace) -> dict:
    """Prints ``text``; adds the setup to ``results`` and writes them to ``--json``."""
    results["setup"] = {k: getattr(args, k) for k in ("batch", "n_dis", "iterations", "rounds", "part_repeats", "warmup", "threads", "device", "bf16", "channels_last", "compile")}
    results["setup"].update(torch=torch.__version__, lightning=L.__version__, machine=platform.processor() or platform.machine())
    print(text)
    if args.json:
        write_text(args.json, json.dumps(results, indent=2))
        print(f"json: {args.json}")
    return results


def main(argv: list[str] | None = None) -> dict:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    torch.set_num_threads(args.threads)
    if args.compile:
        # every D here (one per run) shares one compiled forward, and each sees several kinds of input
        # (attack with input gradients, training, G step): past dynamo's default of 8 variants it
        # would run the rest eagerly without saying so (cache_size_limit: recompile_limit's old name)
        torch._dynamo.config.cache_size_limit = 64
    if args.memory_probe:
        print(peak_memory_probe(args.memory_probe, args))
        return {}
    L.seed_everything(0, verbose=False)
    if args.memory_formats:
        results = compare_memory_formats(args, args.rounds * args.iterations * args.n_dis)
        return report(results, memory_format_table(results, args), args)
    loader, state = make_loader(args), build_state(args)
    times = {method: [] for method in METHODS}
    for round_index in range(args.rounds):  # each round runs every method once, in alternating order
        for method in LIGHTNING_METHODS if round_index % 2 == 0 else LIGHTNING_METHODS[::-1]:
            for name, t in time_round(method, state, args, loader).items():
                times[name] += t
    timings = {method: summarize(t) for method, t in times.items()}
    results = {name: timings[num]["median"] / timings[den]["median"] for name, (num, den) in RATIOS.items()}
    parts = time_iteration_parts(args, args.part_repeats)
    d_update = results["d_update_seconds"] = parts["d_update"]
    results["d_update_dat_over_baseline"] = d_update["ours"] / d_update["baseline"]
    results["d_update_ours_over_authors"] = d_update["ours"] / d_update["authors"]
    composed = {name: args.n_dis * (parts["g_forward"] + d) + parts["g_step"] for name, d in d_update.items()}
    results["part_seconds"] = {"g_forward": parts["g_forward"], "g_step": parts["g_step"], "composed_iteration": composed}
    results["composed_dat_over_baseline"] = composed["ours"] / composed["baseline"]
    results["composed_ours_over_authors"] = composed["ours"] / composed["authors"]
    results["dat_peak_memory_ratio"] = None
    if not args.skip_memory:
        peaks = {method: peak_memory(method, argv) for method in ("baseline", "dat")}
        results["peak_memory_bytes"] = peaks
        results["dat_peak_memory_ratio"] = peaks["dat"] / peaks["baseline"]
    results["timings"] = timings
    results["raw_times"] = times
    return report(results, table(results, args), args)


if __name__ == "__main__":
    main()
