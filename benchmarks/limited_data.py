"""Limited data on a CPU: SNGAN on the offline CIFAR-10 subset with DAT, DiffAugment, LeCam and their stacks.

    python benchmarks/limited_data.py --quick          # 2 methods x 1 seed x 30 iterations: a smoke run
    python benchmarks/limited_data.py --json benchmarks/out/limited_data.json   # all methods, 3 seeds
    python benchmarks/limited_data.py --merge a.json b.json     # one table from runs split over processes

Setup: SNGAN-32 (Mimicry's nets, ``--width`` for ngf = ndf, 16 by default to fit a CPU), hinge loss,
Adam 2e-4 β = (0, 0.9), n_dis 5, batch 32, ``--iterations`` generator iterations, on the 4,660 training
images of ``../shared/data/cifar10_subset.npz`` (already the limited-data regime: ~9% of CIFAR-10).
Methods, each with the papers' defaults: ``baseline``; ``dat`` (``DAT()``, the authors' ε = 1 batch variant);
``diffaugment`` (``DiffAugment()``: color, translation, cutout); ``diffaugment_dat``; ``lecam``
(``LeCam()``: λ 0.3, decay 0.99); ``lecam_dat``. Every run uses the same seeds (``--seeds``).

Scores: FID and KID with the domain-classifier extractor (trained here on the 4,660 training images,
no Inception weights), 846 samples against the 846 held-out test images, and against 846 training
images (train FID: a test FID far above it means G copies the training set, the overfitting these
methods target). Also seconds per generator iteration. Writes ``limited_data_table.md`` under ``--out``
and with ``--json`` ``{method: {seed: {"fid_test", "fid_train", "kid_test", "seconds_per_iteration"}}}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import lightning as L
import torch

from datgan_lightning.adversarial import DAT
from datgan_lightning.augmentations import DiffAugment
from datgan_lightning.data import NpzImages
from datgan_lightning.metrics import DomainClassifierFeatures, ImageQuality
from datgan_lightning.metrics.domain_classifier import classifier_accuracy, save_domain_classifier, train_domain_classifier
from datgan_lightning.modules import SNGAN
from datgan_lightning.regularizers import LeCam

REPO = Path(__file__).resolve().parents[1]
METHODS = {  # name: (perturbation, augmentations, regularizers), built fresh per run
    "baseline": lambda: (None, [], []),
    "dat": lambda: (DAT(), [], []),
    "diffaugment": lambda: (None, [DiffAugment()], []),
    "diffaugment_dat": lambda: (DAT(), [DiffAugment()], []),
    "lecam": lambda: (None, [], [LeCam()]),
    "lecam_dat": lambda: (DAT(), [], [LeCam()]),
}


def train_and_score(method: str, seed: int, args: argparse.Namespace, quality: ImageQuality) -> dict:
    L.seed_everything(seed, verbose=False)
    perturbation, augmentations, regularizers = METHODS[method]()
    model = SNGAN(resolution=32, ngf=args.width, ndf=args.width, max_iterations=args.iterations,
                  perturbation=perturbation, augmentations=augmentations, regularizers=regularizers)  # fmt: skip
    data = NpzImages(str(args.data), batch_size=32, seed=seed)
    trainer = L.Trainer(accelerator="cpu", max_epochs=-1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    start = time.perf_counter()
    trainer.fit(model, data)
    seconds = time.perf_counter() - start
    splits = {"test": data.test_dataset, "train": data.train_dataset}
    scores = quality(model.sampling_generator, splits, data_key="cifar10-subset")
    name = quality.extractor.name
    return {"fid_test": scores[f"fid/test/{name}"], "fid_train": scores[f"fid/train/{name}"],
            "kid_test": scores[f"kid/test/{name}"], "seconds_per_iteration": seconds / args.iterations}  # fmt: skip


def _mean_sd(values: list[float], digits: int) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}"


def table(results: dict, args: argparse.Namespace, header: str) -> str:
    base = statistics.mean(r["seconds_per_iteration"] for r in results["baseline"].values()) if "baseline" in results else None
    rows = [header, "", "| method | FID test | FID train | test − train | KID test | s / G iteration (× baseline) | FID test per seed |",
            "| --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for method, runs in results.items():
        r = list(runs.values())
        seconds = statistics.mean(x["seconds_per_iteration"] for x in r)
        rel = f" (× {seconds / base:.2f})" if base else ""
        per_seed = ", ".join(f"{x['fid_test']:.1f}" for x in r)
        rows.append(f"| {method} | {_mean_sd([x['fid_test'] for x in r], 1)} | {_mean_sd([x['fid_train'] for x in r], 1)} | "
                    f"{_mean_sd([x['fid_test'] - x['fid_train'] for x in r], 1)} | {_mean_sd([x['kid_test'] for x in r], 3)} | "
                    f"{seconds:.2f}{rel} | {per_seed} |")  # fmt: skip
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=None, help="generator iterations per run (default 300; 30 with --quick)")
    parser.add_argument("--methods", nargs="+", default=None, choices=list(METHODS))
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2 (0 with --quick)")
    parser.add_argument("--width", type=int, default=16, help="ngf = ndf (Mimicry: 256/128; 16 keeps a CPU run short)")
    parser.add_argument("--quick", action="store_true", help="baseline and DiffAugment, seed 0, 30 iterations, 1 classifier epoch")
    parser.add_argument("--classifier-epochs", type=int, default=None)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "cifar10_subset.npz")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "limited_data")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        help="print the table of these --json files (runs split over processes) and train nothing")
    args = parser.parse_args(argv)
    if args.merge:
        results = {}
        for path in args.merge:
            for method, runs in json.loads(path.read_text()).items():
                results.setdefault(method, {}).update(runs)
        results = {m: results[m] for m in METHODS if m in results}
        print(table(results, args, f"merged from {', '.join(str(p) for p in args.merge)}"))
        return results
    args.iterations = args.iterations or (30 if args.quick else 300)
    args.methods = args.methods or (["baseline", "diffaugment"] if args.quick else list(METHODS))
    args.seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    epochs = args.classifier_epochs or (1 if args.quick else 5)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    wall = time.perf_counter()

    data = NpzImages(str(args.data))
    data.setup("fit")
    torch.manual_seed(0)
    classifier = train_domain_classifier(data.train_dataset, num_classes=10, channels=3, epochs=epochs)
    accuracy = classifier_accuracy(classifier, data.test_dataset)
    extractor = DomainClassifierFeatures(str(save_domain_classifier(classifier, args.out / "classifier.pt")))
    print(f"domain classifier: held-out accuracy {accuracy:.4f} ({extractor.name})", flush=True)
    n = len(data.test_dataset)
    quality = ImageQuality(extractor, num_real={"test": n, "train": n}, num_fake={"test": n, "train": n}, batch_size=282, kid_subset_size=n // 2)

    results: dict = {}
    for seed in args.seeds:  # seeds outermost: a cut-short run still has every method at the first seeds
        for method in args.methods:
            r = results.setdefault(method, {})[str(seed)] = train_and_score(method, seed, args, quality)
            print(f"{method} seed {seed}: FID test {r['fid_test']:.2f} train {r['fid_train']:.2f} KID {r['kid_test']:.4f} "
                  f"({r['seconds_per_iteration']:.2f} s/it)", flush=True)  # fmt: skip
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(results, indent=2))
    header = (f"SNGAN-32 (width {args.width}, n_dis 5, batch 32) on the CIFAR-10 subset (4,660 train), {args.iterations} generator "
              f"iterations, seeds {' '.join(map(str, args.seeds))} (mean ± sd); FID/KID of {n} samples vs the {n} held-out "
              f"test images and vs {n} train images, {extractor.name} (held-out accuracy {accuracy:.3f}); "
              f"wall time {time.perf_counter() - wall:.0f} s")  # fmt: skip
    text = table(results, args, header)
    (args.out / "limited_data_table.md").write_text(text + "\n")
    print(text)
    return results


if __name__ == "__main__":
    main()
