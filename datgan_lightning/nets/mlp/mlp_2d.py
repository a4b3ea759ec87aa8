"""The 4-layer, 64-unit MLPs of the DAT paper's 2D-mixture study (Fig. 3)."""

from __future__ import annotations

from torch import Tensor, nn

from datgan_lightning.nets.base import Discriminator, Generator


def mlp(in_features: int, out_features: int, hidden: int, layers: int, activation: type[nn.Module]) -> nn.Sequential:
    """``layers`` linear layers with ``hidden`` units and an activation between them."""
    if layers < 2 or hidden < 1:
        raise ValueError(f"MLP needs layers >= 2 and hidden >= 1; got layers={layers}, hidden={hidden}.")
    sizes = [in_features] + [hidden] * (layers - 1) + [out_features]
    modules: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        modules.append(nn.Linear(n_in, n_out))
        if i < layers - 1:
            modules.append(activation())
    return nn.Sequential(*modules)


class MLPGenerator(Generator):
    """``z -> x``, ``layers`` linear layers with ReLU, linear output (the data are unbounded).

    Example:
        >>> import torch
        >>> G = MLPGenerator(latent_dim=2)
        >>> G(G.sample_latent(5)).shape
        torch.Size([5, 2])
    """

    def __init__(self, latent_dim: int = 2, out_features: int = 2, hidden: int = 64, layers: int = 4) -> None:
        super().__init__(latent_dim)
        self.net = mlp(latent_dim, out_features, hidden, layers, nn.ReLU)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPDiscriminator(Discriminator):
    """``x -> logit``, ``layers`` linear layers with ReLU.

    Example:
        >>> import torch
        >>> MLPDiscriminator()(torch.zeros(5, 2)).shape
        torch.Size([5, 1])
    """

    def __init__(self, in_features: int = 2, hidden: int = 64, layers: int = 4) -> None:
        super().__init__()
        self.net = mlp(in_features, 1, hidden, layers, nn.ReLU)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features ``(N, hidden)``: the last hidden layer's ReLU output, which the output layer sees."""
        return self.net[:-1](x)
