"""Train, save and load the domain classifier that replaces Inception where its weights are unavailable.

Plain PyTorch over any dataset of ``(image in [-1, 1], label)``; the ``datgan-train-classifier``
command runs it on a datamodule from a config.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from datgan_lightning.nets.classifier import DomainClassifier
from datgan_lightning.utils import write_atomically


def train_domain_classifier(
    dataset: Dataset,
    num_classes: int,
    channels: int,
    epochs: int = 3,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
) -> DomainClassifier:
    """Train a :class:`DomainClassifier` with Adam and cross-entropy; returns it in eval mode.

    Example:
        >>> from torch.utils.data import TensorDataset
        >>> x = torch.cat([torch.full((32, 1, 16, 16), -0.5), torch.full((32, 1, 16, 16), 0.5)])
        >>> y = torch.cat([torch.zeros(32), torch.ones(32)]).long()
        >>> net = train_domain_classifier(TensorDataset(x, y), num_classes=2, channels=1, epochs=20, batch_size=16)
        >>> (net(x).argmax(1) == y).float().mean().item()
        1.0
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = DomainClassifier(num_classes=num_classes, channels=channels)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=len(dataset) > batch_size, generator=generator)
    net.train()
    for _ in range(epochs):
        for images, labels in loader:
            loss = F.cross_entropy(net(images), labels.long())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return net.eval()


@torch.no_grad()
def classifier_accuracy(net: DomainClassifier, dataset: Dataset, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``net`` (in eval mode) on ``dataset``."""
    net.eval()
    correct = total = 0
    for images, labels in DataLoader(dataset, batch_size=batch_size):
        correct += int((net(images).argmax(1) == labels).sum())
        total += len(labels)
    return correct / total


def save_domain_classifier(net: DomainClassifier, path: str | Path) -> Path:
    """Write ``{"config", "state_dict"}`` to ``path`` atomically (a temporary file, then a rename)."""
    return write_atomically(path, lambda tmp: torch.save({"config": net.config(), "state_dict": net.state_dict()}, tmp))
