"""A classifier's accuracy under L-inf PGD (Rob-GAN Table 1) during training and for ``datgan evaluate``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from lightning.pytorch import LightningModule

from datgan_lightning.callbacks.base import EveryNIterations
from datgan_lightning.metrics.robustness import accuracy_table, accuracy_under_attack


class ClassifierRobustness(EveryNIterations):
    """Log :func:`~datgan_lightning.metrics.robustness.accuracy_under_attack` of the module's classifier
    (an AC-GAN D's ``classify``, e.g. :class:`~datgan_lightning.modules.RobGAN`'s) on the first
    ``num_samples`` test images (training images when the data has no test split), as
    ``accuracy_under_attack/eps=<eps>``; :meth:`evaluate` also prints the row as Rob-GAN's Table 1.

    Args:
        every_n_iterations: interval in generator iterations (fine-tuning steps for ``RobGANFinetune``).
        eps_list: attack radii (the paper's CIFAR-10 row: 0, 0.02, 0.04, 0.08).
        steps, step_size: the PGD (20 steps of ``eps / 5`` when ``step_size`` is ``None``).
        num_samples, batch_size: how many images, in batches of this size.
    """

    json_name = "classifier_robustness.json"

    def __init__(self, every_n_iterations: int = 1000, eps_list: Sequence[float] = (0.0, 0.02, 0.04, 0.08), steps: int = 20,
                 step_size: float | None = None, num_samples: int = 500, batch_size: int = 100) -> None:
        super().__init__(every_n_iterations)
        if min(eps_list, default=-1) < 0 or steps < 1 or num_samples < 1 or batch_size < 1:
            raise ValueError(f"ClassifierRobustness: eps_list={list(eps_list)} must be non-empty and >= 0; steps, num_samples and batch_size >= 1.")
        self.eps_list, self.steps, self.step_size = [float(e) for e in eps_list], int(steps), step_size
        self.num_samples, self.batch_size = num_samples, batch_size

    def evaluate(self, module: LightningModule, datamodule: Any) -> dict[str, float]:
        classifier = module.discriminator
        if not callable(getattr(classifier, "classify", None)):
            raise ValueError(f"ClassifierRobustness needs a discriminator with class logits (classify); {type(classifier).__name__} has none.")
        dataset = getattr(datamodule, "test_dataset", None) or datamodule.train_dataset
        n = min(self.num_samples, len(dataset))
        items = [dataset[i] for i in range(n)]
        if not all(isinstance(item, (tuple, list)) and int(item[1]) >= 0 for item in items):
            raise ValueError("ClassifierRobustness needs a labelled dataset (CIFAR-10, class subfolders, an .npz with train_y).")
        x, y = torch.stack([item[0] for item in items]), torch.as_tensor([int(item[1]) for item in items])
        batches = [(x[i : i + self.batch_size], y[i : i + self.batch_size]) for i in range(0, n, self.batch_size)]
        accuracy = accuracy_under_attack(classifier, batches, self.eps_list, self.steps, self.step_size)
        print(accuracy_table({type(module).__name__: accuracy}))
        return {f"accuracy_under_attack/eps={eps:g}": acc for eps, acc in accuracy.items()}
