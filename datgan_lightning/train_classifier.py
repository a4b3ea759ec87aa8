"""``datgan-train-classifier``: train the domain classifier used for offline FID/KID/IS.

    datgan-train-classifier --data configs/data/mnist_shared.yaml --out classifiers/mnist.pt --epochs 3

Trains :class:`~datgan_lightning.nets.classifier.DomainClassifier` on the datamodule's training
split (its labels), prints the accuracy on its test split and writes the weights atomically.
Pass the file to ``DomainClassifierFeatures(path=...)``: the ``extractor`` of ``ImageQualityMetrics``, or the
``feature`` network of its torchmetrics metrics (``output: features`` for FID/KID/MiFID, ``logits`` for IS).
"""

from __future__ import annotations

import sys

from jsonargparse import ArgumentParser
from lightning.pytorch import LightningDataModule

from datgan_lightning.errors import ConfigurationError
from datgan_lightning.metrics.domain_classifier import classifier_accuracy, save_domain_classifier, train_domain_classifier


def main(args: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="datgan-train-classifier", description=__doc__.split("\n\n")[0])
    parser.add_subclass_arguments(LightningDataModule, "data", required=True, help="a datamodule (or its YAML config)")
    parser.add_argument("--out", required=True, help="where to write the classifier")
    parser.add_argument("--num_classes", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    cfg = parser.parse_args(args)
    datamodule = parser.instantiate_classes(cfg).data
    try:
        datamodule.setup("fit")
    except ConfigurationError as err:
        parser.error(str(err))
    channels = datamodule.image_shape[0]
    net = train_domain_classifier(datamodule.train_dataset, cfg.num_classes, channels, cfg.epochs, cfg.batch_size, cfg.lr, cfg.seed)
    path = save_domain_classifier(net, cfg.out)
    test = getattr(datamodule, "test_dataset", None)
    accuracy = f"; test accuracy {classifier_accuracy(net, test):.4f}" if test is not None else ""
    print(f"domain classifier written to {path}{accuracy}")


if __name__ == "__main__":
    main(sys.argv[1:])
