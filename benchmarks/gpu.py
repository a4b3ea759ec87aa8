"""The GPU path in one command: correctness of every module on CUDA under bf16-mixed and channels_last, the
speed of SNGAN-32 in four precisions/layouts, peak memory, projected hours, and no host synchronisation in
a training step. Designed for at most 8 minutes on one GPU.

    python benchmarks/gpu.py                          # one GPU: the whole check
    python benchmarks/gpu.py --device cpu --smoke     # tiny, on CPU, seconds (the test suite runs it)

1. Every module (SNGAN, SSGAN, InfoMaxGAN, DCGAN, WGAN, ASGAN, RobGAN, ProjectionGAN) trains 2 generator
   iterations with ``precision="bf16-mixed"`` and ``channels_last``, with DAT and R1 where the module takes
   them (ASGAN and RobGAN make their own attack: R1 only), on random images (labelled where needed).
2. SNGAN-32 at batch 64, n_dis 5 (the paper's setting, default widths): baseline, DAT and AS-GAN in fp32,
   bf16-mixed, bf16-mixed + channels_last and bf16-mixed + channels_last + ``compile``; seconds per
   generator iteration (after warm-up iterations), peak memory, and the hours 100k generator iterations
   would take at that speed.
3. Host synchronisation: one training step of each timed run (after warm-up) runs under
   ``torch.cuda.set_sync_debug_mode("error")``, so any ``.item()``, ``float(tensor)``, tensor-valued
   branch or device-to-host copy raises; the table says which run synchronised and where.

Prints one markdown table per part and writes ``OUT/gpu.json`` (default ``benchmarks/out/gpu``). Exits
with status 1 if a module failed to train or a step synchronised. Imports only ``datgan_lightning``
(and torch, Lightning): run it from anywhere, as a file or with ``python -m benchmarks.gpu``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from datgan_lightning.adversarial import DAT
from datgan_lightning.modules import ASGAN, DCGAN, SNGAN, SSGAN, WGAN, InfoMaxGAN, ProjectionGAN, RobGAN
from datgan_lightning.regularizers import R1

LABELLED = ("RobGAN", "ProjectionGAN")
#: precision / layout settings of the timed runs: (name, Trainer precision, channels_last, compile)
SETTINGS = (("fp32", "32-true", False, False), ("bf16", "bf16-mixed", False, False),
            ("bf16+channels_last", "bf16-mixed", True, False), ("bf16+channels_last+compile", "bf16-mixed", True, True))
PROJECTED_ITERATIONS = 100_000


def build(name: str, width: int, n_dis: int, iterations: int, channels_last: bool, compile: bool = False,
          attack: bool = True, regularize: bool = True) -> L.LightningModule:
    """Module ``name`` at widths ``width`` (``None``: its defaults) with DAT and R1 where it takes them."""
    common: dict[str, Any] = {"max_iterations": iterations, "channels_last": channels_last, "compile": compile}
    if regularize:
        common["regularizers"] = [R1(weight=1.0)]
    widths = {} if width is None else {"ngf": width, "ndf": width}
    dat = {"perturbation": DAT(eps=1.0)} if attack else {}
    if name == "ASGAN":
        nets = SNGAN(**widths)
        return ASGAN(generator=nets.generator, discriminator=nets.discriminator, loss="hinge", n_dis=n_dis, **common)
    if name == "RobGAN":
        return RobGAN(**widths, n_dis=n_dis, **common)
    modules = {"SNGAN": SNGAN, "SSGAN": SSGAN, "InfoMaxGAN": InfoMaxGAN, "DCGAN": DCGAN, "WGAN": WGAN, "ProjectionGAN": ProjectionGAN}
    return modules[name](**widths, n_dis=n_dis, **dat, **common)


def loader(model: L.LightningModule, batch: int, batches: int, labelled: bool) -> DataLoader:
    images = torch.rand(batch * batches, *model.generator.output_shape) * 2 - 1
    tensors = (images, torch.randint(0, 10, (len(images),))) if labelled else (images,)
    return DataLoader(TensorDataset(*tensors), batch_size=batch, drop_last=True)


class StepClock(L.Callback):
    """Times generator iterations after ``warmup`` of them, and runs one D step after the warm-up under
    ``torch.cuda.set_sync_debug_mode("error")`` (CUDA only): a host synchronisation there raises."""

    def __init__(self, warmup: int, check_sync: bool) -> None:
        self.warmup, self.check_sync = warmup, check_sync
        self.times: list[float] = []
        self.sync: str | None = None
        self._checking = False

    def _synchronize(self, pl_module: L.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.check_sync and pl_module.generator_iterations == self.warmup and (pl_module.discriminator_steps + 1) % pl_module.n_dis == 0:  # a D step and the G step
            self._synchronize(pl_module)
            torch.cuda.set_sync_debug_mode("error")
            self._checking = True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self._checking:
            torch.cuda.set_sync_debug_mode("default")
            self._checking = False
            self.sync = self.sync or "none"
        if pl_module.discriminator_steps % pl_module.n_dis == 0 and pl_module.generator_iterations >= self.warmup:
            self._synchronize(pl_module)
            self.times.append(time.perf_counter())

    def on_exception(self, trainer, pl_module, exception):
        if self._checking:
            torch.cuda.set_sync_debug_mode("default")
            self._checking = False


def fit(model: L.LightningModule, data: DataLoader, device: str, precision: str, callbacks: list) -> None:
    trainer = L.Trainer(accelerator=device, devices=1, precision=precision, max_epochs=-1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=10**6, callbacks=callbacks)
    trainer.fit(model, data)


def first_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}"[:200]


def correctness(args: argparse.Namespace) -> list[dict]:
    rows = []
    for name in ("SNGAN", "SSGAN", "InfoMaxGAN", "DCGAN", "WGAN", "ASGAN", "RobGAN", "ProjectionGAN"):
        started = time.perf_counter()
        try:
            model = build(name, args.module_width, n_dis=2, iterations=2, channels_last=True)
            fit(model, loader(model, args.module_batch, 2 * 2 + 2, name in LABELLED), args.device, "bf16-mixed", [])
            ok = model.generator_iterations == 2
            rows.append({"module": name, "ok": ok, "seconds": time.perf_counter() - started, "error": None if ok else "did not reach 2 iterations"})
        except Exception as err:  # noqa: BLE001 - the table reports every module; the exit status fails the run
            traceback.print_exc(file=sys.stderr)
            rows.append({"module": name, "ok": False, "seconds": time.perf_counter() - started, "error": first_line(err)})
        print(f"  {name}: {'ok' if rows[-1]['ok'] else rows[-1]['error']} ({rows[-1]['seconds']:.1f} s)", flush=True)
    return rows


def timing(args: argparse.Namespace) -> list[dict]:
    rows = []
    cuda = args.device == "cuda"
    for method in ("baseline", "DAT", "AS-GAN"):
        for setting, precision, channels_last, compile in SETTINGS:
            if compile and not cuda:
                rows.append({"method": method, "setting": setting, "skipped": "compile is timed on CUDA only"})
                continue
            row: dict[str, Any] = {"method": method, "setting": setting}
            try:
                name = "ASGAN" if method == "AS-GAN" else "SNGAN"
                model = build(name, args.width, args.n_dis, args.warmup + args.iterations, channels_last, compile,
                              attack=method == "DAT", regularize=False)
                clock = StepClock(args.warmup, check_sync=cuda)
                if cuda:
                    torch.cuda.reset_peak_memory_stats()
                batches = args.n_dis * (args.warmup + args.iterations) + 1
                fit(model, loader(model, args.batch, batches, labelled=False), args.device, precision, [clock])
                seconds = (clock.times[-1] - clock.times[0]) / (len(clock.times) - 1)
                row.update(seconds_per_iteration=seconds, projected_hours=seconds * PROJECTED_ITERATIONS / 3600,
                           peak_memory_gib=torch.cuda.max_memory_allocated() / 2**30 if cuda else None, host_sync=clock.sync)
            except RuntimeError as err:
                if cuda and "synchroniz" in str(err).lower():
                    traceback.print_exc(file=sys.stderr)
                    row["host_sync"] = first_line(err)
                else:
                    raise
            rows.append(row)
            print(f"  {method} {setting}: {row.get('seconds_per_iteration', float('nan')):.3f} s / iteration, host sync: {row.get('host_sync')}", flush=True)
    return rows


def tables(correct: list[dict], timed: list[dict], args: argparse.Namespace) -> str:
    lines = [f"Every module, 2 generator iterations, bf16-mixed + channels_last, {args.device}",
             "| module | trains | seconds | error |", "|---|---|---|---|"]
    lines += [f"| {r['module']} | {'yes' if r['ok'] else 'NO'} | {r['seconds']:.1f} | {r['error'] or ''} |" for r in correct]
    lines += ["", f"SNGAN-32 batch {args.batch}, n_dis {args.n_dis}, widths {args.width or 'default'}, {args.iterations} timed iterations "
              f"after {args.warmup}, {args.device}", "| method | setting | s / G iteration | hours for 100k | peak memory | host sync in a step |",
              "|---|---|---|---|---|---|"]
    for r in timed:
        if "skipped" in r:
            lines.append(f"| {r['method']} | {r['setting']} | skipped: {r['skipped']} | | | |")
            continue
        memory = f"{r['peak_memory_gib']:.2f} GiB" if r.get("peak_memory_gib") is not None else "n/a"
        seconds = f"{r['seconds_per_iteration']:.4f}" if "seconds_per_iteration" in r else "-"
        hours = f"{r['projected_hours']:.1f}" if "projected_hours" in r else "-"
        lines.append(f"| {r['method']} | {r['setting']} | {seconds} | {hours} | {memory} | {r.get('host_sync') or 'not checked (CPU)'} |")
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--smoke", action="store_true", help="tiny nets and batches, 2 timed iterations, no compile (the test suite)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks") / "out" / "gpu")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is visible; run on a GPU machine or use --device cpu --smoke.")
    if args.smoke:
        args.width, args.batch, args.n_dis, args.warmup, args.iterations, args.module_width, args.module_batch = 4, 4, 1, 1, 2, 4, 4
    else:  # the paper's SNGAN-32 setting at its default widths; every module at default widths, batch 16
        args.width, args.batch, args.n_dis, args.warmup, args.iterations, args.module_width, args.module_batch = None, 64, 5, 3, 20, None, 16
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # one line per run is ours; Lightning's banners are not
    started = time.perf_counter()
    print("modules:", flush=True)
    correct = correctness(args)
    print("timing:", flush=True)
    timed = timing(args)
    table = tables(correct, timed, args)
    print(table)
    result = {"device": args.device, "smoke": args.smoke, "device_name": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
              "torch": torch.__version__, "modules": correct, "timing": timed, "seconds": time.perf_counter() - started}
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / ".gpu.json.tmp"
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(args.out / "gpu.json")  # atomically
    (args.out / "gpu_table.md").write_text(table + "\n")
    failed = [r["module"] for r in correct if not r["ok"]] + [f"{r['method']} {r['setting']}" for r in timed if r.get("host_sync") not in (None, "none")]
    if failed and argv is None:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)
    return result


if __name__ == "__main__":
    main()
