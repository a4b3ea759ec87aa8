"""DAT paper Fig. 4 on MNIST: DCGAN with and without DAT across Adam learning rates, scored by FID/KID.

    python -m benchmarks.lr_sensitivity --quick                      # 150 iterations per run: under 10 minutes here
    python -m benchmarks.lr_sensitivity --json benchmarks/out/lr_sensitivity.json   # 2000 iterations per run: ~1 h here

Setup (Fig. 4): DCGAN (z=100, 4 conv layers with BN; width ``--width``, the paper's 64 by default
with ``--width 64``), Adam with lr in {2e-4, 5e-4, 1e-3, 2e-3, 5e-3} for G and D, β = (0.5, 0.999),
n_dis 1, ns loss, batch 64, no LR decay; DAT as in the authors' code (``DAT()``: ε = 1, batch variant).
Data: the MNIST 10k test split from ``../shared/data/mnist``, split once (seed 0) into 8k training
images and 2k held out. Scores: FID and KID of 2k samples against the 2k held-out images, with the
domain-classifier extractor (trained here on the 8k training images, no Inception weights needed).
Writes ``lr_sensitivity_table.md``, ``lr_sensitivity.png`` (FID vs lr, both methods) under ``--out``
and with ``--json`` ``{method: {lr: {"fid", "kid"}}}`` (method ``gan``/``dat``, lr such as ``"0.001"``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch

from benchmarks.harness import OUT, REPO, figure, prepare_classifier, save_figure, write_text
from datgan_lightning.adversarial import DAT
from datgan_lightning.data import MNIST, NpzImages
from datgan_lightning.metrics import DomainClassifierFeatures, ImageQuality
from datgan_lightning.modules import DCGAN

LRS = (2e-4, 5e-4, 1e-3, 2e-3, 5e-3)
METHODS = ("gan", "dat")


def split_mnist(root: str, out: Path, held_out: int = 2000) -> Path:
    """The 10k MNIST images (padded to 32x32) as ``mnist_split.npz``: 8k train, 2k held out."""
    data = MNIST(root=root, image_size=32, batch_size=64)
    data.setup("fit")
    dataset = data.train_dataset
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    labels = np.array([dataset[i][1] for i in range(len(dataset))])
    uint8 = ((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    order = np.random.default_rng(0).permutation(len(uint8))
    train, test = order[held_out:], order[:held_out]
    path = out / "mnist_split.npz"
    np.savez(path, train_x=uint8[train], train_y=labels[train], test_x=uint8[test], test_y=labels[test])
    return path


def train_and_score(method: str, lr: float, args: argparse.Namespace, npz: Path, quality: ImageQuality) -> dict:
    L.seed_everything(0, verbose=False)
    model = DCGAN(channels=1, ngf=args.width, ndf=args.width, lr_g=lr, lr_d=lr, max_iterations=args.iterations,
                  perturbation=DAT() if method == "dat" else None)
    data = NpzImages(str(npz), batch_size=64)
    trainer = L.Trainer(accelerator="cpu", max_epochs=-1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    start = time.perf_counter()
    trainer.fit(model, data)
    seconds = time.perf_counter() - start
    scores = quality(model.sampling_generator, {"test": data.test_dataset}, data_key="mnist-heldout2k")
    name = quality.extractor.name
    return {"fid": scores[f"fid/test/{name}"], "kid": scores[f"kid/test/{name}"], "seconds": seconds}


def save_plot(results: dict, lrs: list[float], iterations: int, extractor_name: str, path: Path) -> None:
    """FID vs learning rate, both methods, one tick per learning rate."""
    fig = figure(figsize=(5, 3.5))
    ax = fig.subplots()
    for method, label in (("gan", "GAN"), ("dat", "GAN+DAT")):
        ax.plot(lrs, [results[method][f"{lr:g}"]["fid"] for lr in lrs], marker="o", label=label)
    ax.set(xscale="log", xlabel="Adam learning rate", ylabel=f"FID ({extractor_name})", title=f"MNIST DCGAN, {iterations} iterations")
    ax.set_xticks(lrs, [f"{lr:g}" for lr in lrs], minor=False)
    ax.set_xticks([], minor=True)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=None, help="generator iterations per run (default 2000; 150 with --quick)")
    parser.add_argument("--lrs", type=float, nargs="+", default=list(LRS))
    parser.add_argument("--width", type=int, default=32, help="ngf = ndf (the paper: 64; 32 keeps a CPU run short)")
    parser.add_argument("--quick", action="store_true", help="150 iterations per run, 1 classifier epoch")
    parser.add_argument("--classifier-epochs", type=int, default=None)
    parser.add_argument("--mnist-root", default=str(REPO.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", type=Path, default=OUT / "lr_sensitivity")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.iterations = args.iterations or (150 if args.quick else 2000)
    epochs = args.classifier_epochs or (1 if args.quick else 3)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)

    npz = split_mnist(args.mnist_root, args.out)
    classifier, _, accuracy = prepare_classifier(npz, args.out, epochs, args.threads, seed=0)
    extractor = DomainClassifierFeatures(str(classifier))
    print(f"domain classifier: held-out accuracy {accuracy:.4f} ({extractor.name})")
    quality = ImageQuality(extractor, num_real={"test": 2000}, num_fake={"test": 2000}, batch_size=500)

    results: dict = {method: {} for method in METHODS}
    for lr in args.lrs:
        for method in METHODS:
            results[method][f"{lr:g}"] = train_and_score(method, lr, args, npz, quality)
            r = results[method][f"{lr:g}"]
            print(f"{method} lr {lr:g}: FID {r['fid']:.2f} KID {r['kid']:.4f} ({r['seconds']:.0f} s)", flush=True)

    rows = [f"DCGAN on MNIST (8k train), {args.iterations} generator iterations, width {args.width}, "
            f"FID/KID of 2k samples vs 2k held out, {extractor.name} (held-out accuracy {accuracy:.3f})", "",
            "| lr | GAN FID | GAN+DAT FID | GAN KID | GAN+DAT KID |", "| --- | --- | --- | --- | --- |"]
    for lr in args.lrs:
        g, d = results["gan"][f"{lr:g}"], results["dat"][f"{lr:g}"]
        rows.append(f"| {lr:g} | {g['fid']:.2f} | {d['fid']:.2f} | {g['kid']:.4f} | {d['kid']:.4f} |")
    table = "\n".join(rows)
    write_text(args.out / "lr_sensitivity_table.md", table + "\n")
    print(table)

    save_plot(results, args.lrs, args.iterations, extractor.name, args.out / "lr_sensitivity.png")
    print(f"plot: {args.out / 'lr_sensitivity.png'}")
    if args.json:
        write_text(args.json, json.dumps({m: {lr: {"fid": v["fid"], "kid": v["kid"]} for lr, v in r.items()} for m, r in results.items()}, indent=2))
    return results


if __name__ == "__main__":
    main()
