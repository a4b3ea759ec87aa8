"""Speed of one evaluation pass: the torchmetrics engine of ``ImageQualityMetrics`` (torchmetrics FID, KID
and IS on our extractor, :class:`~datgan_lightning.metrics.image_metrics.ImageMetrics`) against the
previous engine (our own pipeline with torch-fidelity's formulas, :class:`~datgan_lightning.metrics.fidelity.ImageQuality`),
on the same generator, extractor, fakes and real split, with the real statistics already cached on disk:
what every evaluation after a run's first costs (generate the fakes, extract them, compute the metrics).

    python -m benchmarks.eval_speed                  # 10k fakes vs 10k cached reals, CIFAR-10 shapes, domain classifier
    python -m benchmarks.eval_speed --quick          # 2k fakes and reals
    python -m benchmarks.eval_speed --smoke          # tests: 64
    python -m benchmarks.eval_speed --extractor inception --num 500   # torch-fidelity's InceptionV3, random weights

Both engines score FID, KID (``--kid-subsets`` x ``--kid-subset-size``, default 100 x 1000) and IS (10
splits) of a DCGAN generator (random weights, 32 x 32 x 3, latent 100) against ``--num`` random real
images, in batches of ``--batch-size`` (100), one thread. The extractor is a CIFAR-size domain classifier
(random weights) or, with ``--extractor inception``, torch-fidelity's InceptionV3 with random weights (no
download; same cost as the real weights). The engines alternate ``--repeats`` times (old, new, old, new, ...)
so drift in the machine's load hits both. Prints each pass's seconds, the medians, new / old, and both
engines' numbers (FID agrees to 1e-5; KID's subsets and IS's shuffle are drawn by different RNGs);
``--json`` writes them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

import torch
from torch.utils.data import TensorDataset

from benchmarks.harness import write_text
from datgan_lightning.metrics import DomainClassifierFeatures, ImageMetrics, ImageQuality, InceptionV3Features, fid_kid_is
from datgan_lightning.metrics.domain_classifier import save_domain_classifier
from datgan_lightning.modules import DCGAN
from datgan_lightning.nets.classifier import DomainClassifier


def random_inception_weights(path: Path) -> Path:
    """torch-fidelity's InceptionV3 with its initial random weights, saved where ``weights_path`` can read it."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    with mock.patch("torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url", return_value={}), \
         mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict"):
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"])
    torch.save(net.state_dict(), path)
    return path


def extractor(kind: str, directory: Path):
    if kind == "inception":
        return InceptionV3Features(weights_path=str(random_inception_weights(directory / "inception-random.pth")))
    torch.manual_seed(0)
    return DomainClassifierFeatures(str(save_domain_classifier(DomainClassifier(num_classes=10, channels=3), directory / "classifier.pt")))


def engines(args: argparse.Namespace, features, cache: Path) -> dict:
    """Fresh engines (as a new run builds them), both reading their real statistics from ``cache``."""
    counts = {"num_real": {"test": args.num}, "batch_size": args.batch_size, "cache_dir": cache}
    kid = {"kid_subsets": args.kid_subsets, "kid_subset_size": args.kid_subset_size}
    return {
        "old (ImageQuality, torch-fidelity formulas)": ImageQuality(features, is_splits=10, **kid, **counts),
        "new (ImageMetrics, torchmetrics FID/KID/IS)": ImageMetrics(fid_kid_is(features, is_splits=10, **kid), splits=["test"], **counts),
    }


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extractor", choices=("domain", "inception"), default="domain")
    parser.add_argument("--num", type=int, default=None, help="fakes and (cached) reals (default 10000; quick 2000; smoke 64)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--kid-subsets", type=int, default=None, help="default 100 (smoke 5)")
    parser.add_argument("--kid-subset-size", type=int, default=None, help="default min(1000, num)")
    parser.add_argument("--repeats", type=int, default=None, help="timed passes per engine (default 3; smoke 1)")
    parser.add_argument("--quick", action="store_true", help="2000 images")
    parser.add_argument("--smoke", action="store_true", help="tests only: 64 images, one pass")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    args.num = args.num or (64 if args.smoke else 2000 if args.quick else 10_000)
    args.kid_subsets = args.kid_subsets or (5 if args.smoke else 100)
    args.kid_subset_size = min(args.kid_subset_size or 1000, args.num)
    args.repeats = args.repeats or (1 if args.smoke else 3)
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    generator = DCGAN(channels=3).sampling_generator
    reals = {"test": TensorDataset(torch.randint(0, 256, (args.num, 3, 32, 32)).float() / 127.5 - 1)}
    seconds: dict[str, list[float]] = {}
    scores: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        features = extractor(args.extractor, Path(tmp))
        for engine in engines(args, features, Path(tmp) / "cache").values():  # fill the cache: a run's first evaluation
            engine(generator, reals, data_key="eval-speed")
        for _ in range(args.repeats):
            for name, engine in engines(args, features, Path(tmp) / "cache").items():
                start = time.perf_counter()
                scores[name] = engine(generator, reals, data_key="eval-speed")
                seconds.setdefault(name, []).append(time.perf_counter() - start)
    medians = {name: statistics.median(s) for name, s in seconds.items()}
    old, new = medians.values()
    result = {"extractor": features.name.split("-")[0], "num": args.num, "batch_size": args.batch_size, "kid": [args.kid_subsets, args.kid_subset_size],
              "seconds": seconds, "median_seconds": medians, "new_over_old": new / old, "scores": scores}
    print(f"evaluation pass: {args.num} fakes vs {args.num} cached reals, {args.extractor} extractor, batch {args.batch_size}, 1 thread")
    for name, s in seconds.items():
        print(f"  {name}: {', '.join(f'{x:.2f}' for x in s)} s (median {medians[name]:.2f} s)")
        print(f"    {', '.join(f'{k} {v:.6g}' for k, v in scores[name].items())}")
    print(f"  new / old: {new / old:.3f}")
    if args.json is not None:
        write_text(args.json, json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
