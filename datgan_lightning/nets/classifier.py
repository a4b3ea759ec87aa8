"""A small image classifier for the domain-classifier FID/KID/IS (where Inception weights are unavailable)."""

from __future__ import annotations

from torch import Tensor, nn


class DomainClassifier(nn.Module):
    """``image -> conv(32) -> conv(64) -> conv(128) -> global average -> features -> logits``.

    Three stride-2 conv blocks with BatchNorm and ReLU, then a linear layer to ``num_features``
    (the penultimate features used for FID/KID) and a linear layer to ``num_classes`` (the logits
    whose softmax gives IS). Any image size of at least 8 pixels works.

    Example:
        >>> import torch
        >>> net = DomainClassifier(num_classes=10, channels=1)
        >>> net(torch.zeros(2, 1, 32, 32)).shape, net.features(torch.zeros(2, 1, 32, 32)).shape
        (torch.Size([2, 10]), torch.Size([2, 128]))
    """

    def __init__(self, num_classes: int = 10, channels: int = 3, width: int = 32, num_features: int = 128) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"DomainClassifier: num_classes={num_classes} is invalid; a classifier needs at least 2 classes.")
        self.num_classes, self.channels, self.width, self.num_features = num_classes, channels, width, num_features
        layers, in_channels = [], channels
        for out_channels in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(in_channels, out_channels, 3, 2, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(True)]
            in_channels = out_channels
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_channels, num_features), nn.ReLU(True))
        self.head = nn.Linear(num_features, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features, shape ``(N, num_features)``."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    def config(self) -> dict[str, int]:
        """The constructor arguments, saved next to the weights."""
        return {"num_classes": self.num_classes, "channels": self.channels, "width": self.width, "num_features": self.num_features}
