"""Data-parallel throughput: 1 vs 2 processes on the same global batch, baseline and DAT, and the cost
of the gan_ddp strategy against Lightning's ddp_find_unused_parameters_true; and a FLOP-counted model of
the speed-up up to 64 ranks.

    python -m benchmarks.scale                 # SNGAN-32 widths 32, global batch 32, n_dis 5, 6 timed iterations
    python -m benchmarks.scale --quick         # widths 16, global batch 16, 3 timed iterations
    python -m benchmarks.scale --smoke         # tiny, DAT only, 1 process and 2 with gan_ddp (a test runs it)
    python -m benchmarks.scale --device cuda --processes 1 2 4 8 --batch 256 --width 128   # the GPU path
    python -m benchmarks.scale --attacks local gathered --strategies gan_ddp   # DAT's attack: own rows vs the gathered global batch
    python -m benchmarks.scale --model         # FLOP model only (meta device, seconds): SNGAN-32/48/64 at R = 1, 2, 8, 64

``--attacks gathered`` times the attack as it was before each rank attacked its own rows (every rank
attacks the gathered global batch, keeps its rows); it is kept here for that measurement only.

Each run is a subprocess (CPU: gloo, one intra-op thread per process): SNGAN-32 with hinge loss on random
images, the global batch split over the processes (per-process batch = batch / processes), the first
generator iteration untimed. Prints generator iterations/s and images/s (D steps x global batch / s),
the speed-up over one process and gan_ddp's time relative to find_unused_parameters, and writes JSON.
On a CPU shared with other jobs the numbers move by tens of percent; compare within one invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.harness import OUT, REPO, write_text

STRATEGIES = {"gan_ddp": "gan_ddp", "find_unused": "ddp_find_unused_parameters_true"}
ATTACKS = ("local", "gathered")


def gathered_attack(model) -> None:
    """Make ``model.perturb`` attack the gathered global batch on every rank and keep the rank's rows (the
    attack before issue 26): the strategy then runs as on one device (no reduction of its own)."""
    import datgan_lightning.utils as utils
    from datgan_lightning.distributed import gather_batch, own_rows

    attack = model.perturb

    def perturb(discriminator, real, fake, labels=None):
        local, utils.is_distributed = utils.is_distributed, lambda: False  # the global batch is all there
        try:
            real_adv, fake_adv = attack(discriminator, gather_batch(real), gather_batch(fake), None if labels is None else gather_batch(labels))
        finally:
            utils.is_distributed = local
        return own_rows(real_adv, len(real)), own_rows(fake_adv, len(fake))

    model.perturb = perturb


def flop_model(resolutions=(32, 48, 64), ranks=(1, 2, 8, 64), batch: int = 64, n_dis: int = 5) -> list[dict]:
    """FLOPs per rank of one generator iteration of SNGAN (its default widths, per-rank batch ``batch``),
    counted with :class:`torch.utils.flop_counter.FlopCounterMode` on the meta device (no memory, no
    time), for the baseline, DAT with each rank attacking its own rows (local) and DAT attacking the
    gathered global batch; the speed-up over one rank at the same per-rank batch (compute-bound,
    communication left out) and the attack's activations per rank (the tensors autograd saves in the
    attack's forward, float32)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from datgan_lightning.modules import SNGAN
    from datgan_lightning.utils import logits

    def counted(fn) -> int:
        with FlopCounterMode(display=False) as counter:
            fn()
        return counter.get_total_flops()

    rows = []
    for resolution in resolutions:
        with torch.device("meta"):
            gan = SNGAN(resolution=resolution)
            G, D = gan.generator, gan.discriminator
            z = torch.randn(batch, G.latent_dim)
            images = torch.randn(2 * batch, *G.output_shape)

            def attack(n: int) -> None:  # one DAT step on n rows of real and n of fake: D forward, gradient to the inputs
                x = torch.randn(2 * n, *G.output_shape, requires_grad=True)
                D.requires_grad_(False)  # input gradient only, as the strategies' autograd.grad (which FlopCounterMode cannot follow)
                logits(D, x).mean().backward()
                D.requires_grad_(True)

            def d_train() -> None:  # D's loss on 2b rows, backward to its weights
                logits(D, images).mean().backward()

            def g_step() -> None:  # G forward and D through to G's weights
                logits(D, G(z)).mean().backward()

            with torch.no_grad():
                fake = counted(lambda: G(z))
            base_d, base_g = counted(d_train), counted(g_step)
            baseline = n_dis * (fake + base_d) + base_g
            attack_flops = {r: counted(lambda: attack(batch * r)) for r in ranks}  # r: the gathered batch of r ranks
            local_attack = attack_flops[1] if 1 in attack_flops else counted(lambda: attack(batch))
            saved: list[int] = []

            def pack(t):
                saved.append(t.numel() * t.element_size())
                return t

            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                logits(D, torch.randn(2 * batch, *G.output_shape, requires_grad=True)).mean()
            attack_bytes = sum(saved)  # what the attack's forward keeps for its backward
        for r in ranks:
            gathered_attack_flops = attack_flops[r]
            local = baseline + n_dis * local_attack
            gathered = baseline + n_dis * gathered_attack_flops
            rows.append({"resolution": resolution, "ranks": r, "baseline_gflop": baseline / 1e9, "dat_local_gflop": local / 1e9,
                         "dat_gathered_gflop": gathered / 1e9, "speedup_baseline": float(r), "speedup_dat_local": r * local / local,
                         "speedup_dat_gathered": r * local / gathered, "attack_gib_local": attack_bytes / 2**30,
                         "attack_gib_gathered": attack_bytes * r / 2**30})
    return rows


def flop_table(rows: list[dict], batch: int = 64, n_dis: int = 5) -> str:
    lines = [f"FLOP model (meta device): SNGAN default widths, per-rank batch {batch}, n_dis {n_dis}, one DAT step; speed-up = R x T(1) / T(R)",
             "| SNGAN | ranks | baseline GFLOP/rank | DAT local GFLOP/rank | DAT gathered GFLOP/rank | speed-up DAT local | speed-up DAT gathered | attack activations/rank local | gathered |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['resolution']} | {row['ranks']} | {row['baseline_gflop']:.0f} | {row['dat_local_gflop']:.0f} | {row['dat_gathered_gflop']:.0f} | "
                     f"{row['speedup_dat_local']:.2f} | {row['speedup_dat_gathered']:.2f} | {row['attack_gib_local']:.2f} GiB | {row['attack_gib_gathered']:.2f} GiB |")
    return "\n".join(lines)


def worker(args: argparse.Namespace) -> None:
    """One timed run (inside the subprocess; Lightning starts the other ranks)."""
    import lightning as L
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    import datgan_lightning  # noqa: F401  (registers gan_ddp)
    from datgan_lightning.adversarial import DAT
    from datgan_lightning.modules import SNGAN

    torch.set_num_threads(1)
    L.seed_everything(0, verbose=False)
    iterations = args.iterations + 1  # the first is not timed
    model = SNGAN(ngf=args.width, ndf=args.width, n_dis=args.n_dis, max_iterations=iterations,
                  perturbation=DAT(eps=1.0) if args.method == "dat" else None)
    if args.attack == "gathered" and args.method == "dat" and args.processes > 1:
        gathered_attack(model)
    per_process = args.batch // args.processes
    images = torch.rand(per_process * args.n_dis * iterations * args.processes, 3, 32, 32) * 2 - 1
    times: list[float] = []

    class Clock(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if pl_module.discriminator_steps % pl_module.n_dis == 0:  # a generator iteration ended
                times.append(time.perf_counter())

    trainer = L.Trainer(accelerator=args.device, devices=args.processes, strategy="auto" if args.processes == 1 else STRATEGIES[args.strategy],
                        max_epochs=-1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[Clock()])
    trainer.fit(model, DataLoader(TensorDataset(images), batch_size=per_process))
    if trainer.global_rank == 0:
        seconds = times[-1] - times[0]
        result = {"seconds_per_iteration": seconds / args.iterations, "iterations": args.iterations}
        Path(args.out).write_text(json.dumps(result))


def run(args: argparse.Namespace, method: str, processes: int, strategy: str, out: Path, attack: str = "local") -> dict:
    command = [sys.executable, "-m", "benchmarks.scale", "--worker", "--method", method, "--processes", str(processes), "--attack", attack,
               "--strategy", strategy, "--batch", str(args.batch), "--width", str(args.width), "--n-dis", str(args.n_dis),
               "--iterations", str(args.iterations), "--device", args.device, "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=args.timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{method} on {processes} process(es) with {strategy} failed:\n{done.stderr[-3000:]}")
    result = json.loads(out.read_text())
    result["wall_seconds"] = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    if args.worker:
        worker(args)
        return {}
    args.out.mkdir(parents=True, exist_ok=True)
    if args.model:
        rows = flop_model()
        table = flop_table(rows)
        print(table)
        (args.out / "scale_model.md").write_text(table + "\n")
        (args.out / "scale_model.json").write_text(json.dumps(rows, indent=1))
        return {"model": rows}
    runs = [(m, 1, "gan_ddp", "local") for m in args.methods]
    runs += [(m, p, s, a) for m in args.methods for p in args.processes if p > 1 for s in args.strategies
             for a in (args.attacks if m == "dat" else ["local"])]
    results = {}
    for method, processes, strategy, attack in runs:
        key = f"{method}/{processes}/{strategy if processes > 1 else 'single'}" + ("/gathered" if attack == "gathered" else "")
        results[key] = run(args, method, processes, strategy, args.out / f"scale_{key.replace('/', '_')}.json", attack)
        print(f"  {key}: {results[key]['seconds_per_iteration']:.3f} s per generator iteration", flush=True)
    rows = [f"global batch {args.batch}, n_dis {args.n_dis}, SNGAN-32 width {args.width}, {args.iterations} timed iterations, {args.device}",
            "| method | processes | strategy | s / G iteration | images / s | speed-up vs 1 | vs find_unused |",
            "|---|---|---|---|---|---|---|"]
    for key, result in results.items():
        method, processes, strategy = key.split("/")[:3]
        seconds = result["seconds_per_iteration"]
        single = results[f"{method}/1/single"]["seconds_per_iteration"]
        reference = results.get(f"{method}/{processes}/find_unused")
        gathered = key.endswith("/gathered")
        relative = f"{seconds / reference['seconds_per_iteration']:.2f}x time" if reference and strategy == "gan_ddp" and not gathered else ""
        rows.append(f"| {method} | {processes} | {strategy}{' gathered attack' if gathered else ''} | {seconds:.3f} | {args.n_dis * args.batch / seconds:.0f} | {single / seconds:.2f} | {relative} |")
    table = "\n".join(rows)
    print(table)
    write_text(args.out / "scale_table.md", table + "\n")
    write_text(args.out / "scale.json", json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=1))
    return results


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=None, help="global batch (default 32; 16 --quick; 4 --smoke)")
    parser.add_argument("--width", type=int, default=None, help="ngf = ndf (default 32; 16 --quick; 4 --smoke)")
    parser.add_argument("--n-dis", type=int, default=None, help="D steps per generator iteration (default 5; 1 --smoke)")
    parser.add_argument("--iterations", type=int, default=None, help="timed generator iterations (default 6; 3 --quick; 2 --smoke)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--methods", nargs="+", default=None, choices=("baseline", "dat"))
    parser.add_argument("--strategies", nargs="+", default=None, choices=tuple(STRATEGIES))
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--attacks", nargs="+", default=["local"], choices=ATTACKS, help="DAT's attack under gan_ddp (gathered: the old one, timing only)")
    parser.add_argument("--model", action="store_true", help="print the FLOP model only")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT / "scale")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--method", default="dat", help=argparse.SUPPRESS)
    parser.add_argument("--strategy", default="gan_ddp", help=argparse.SUPPRESS)
    parser.add_argument("--attack", default="local", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.processes = args.processes[0]
        return args
    size = "smoke" if args.smoke else "quick" if args.quick else "full"
    defaults = {"full": (32, 32, 5, 6), "quick": (16, 16, 5, 3), "smoke": (4, 4, 1, 2)}[size]
    for name, value in zip(("batch", "width", "n_dis", "iterations"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.methods = args.methods or (["dat"] if args.smoke else ["baseline", "dat"])
    args.strategies = args.strategies or (["gan_ddp"] if args.smoke else list(STRATEGIES))
    for p in args.processes:
        if args.batch % p:
            parser.error(f"--batch {args.batch} does not split over {p} processes; use a multiple of {p}.")
    return args


if __name__ == "__main__":
    main()
