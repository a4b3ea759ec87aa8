"""Base classes of the networks: a generator knows its latent size."""

from __future__ import annotations

import inspect

import torch
from torch import Tensor, nn

from datgan_lightning.checks import require
from datgan_lightning.errors import ConfigurationError
from datgan_lightning.utils import eval_mode


class Generator(nn.Module):
    """A generator maps ``z ~ N(0, I)`` of size ``latent_dim`` to a sample; a class-conditional one
    (``num_classes > 0``) maps ``(z, labels)``."""

    num_classes: int = 0  # > 0: class-conditional, called as G(z, labels)

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim={latent_dim} is invalid; use an integer >= 1.")
        self.latent_dim = latent_dim

    def sample_latent(self, n: int, device: torch.device | str | None = None) -> Tensor:
        return torch.randn(n, self.latent_dim, device=device)

    def sample_labels(self, n: int, device: torch.device | str | None = None, generator: torch.Generator | None = None) -> Tensor:
        """``n`` labels from the uniform class prior (the balanced datasets' prior)."""
        return torch.randint(self.num_classes, (n,), generator=generator).to(device)


def is_conditional(generator: nn.Module) -> bool:
    """Whether ``generator`` takes ``(z, labels)``: it has ``num_classes > 0``."""
    return getattr(generator, "num_classes", 0) > 0


def check_labels(labels: Tensor, num_classes: int, n: int | None = None) -> Tensor:
    """``labels`` as a long tensor, or one sentence saying what is wrong with them."""
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or (n is not None and len(labels) != n):
        raise ValueError(f"labels of shape {tuple(labels.shape)} are invalid; give one class index per sample ({n} here).")
    if labels.dtype.is_floating_point or (len(labels) and (labels.min() < 0 or labels.max() >= num_classes)):
        raise ValueError(
            f"labels {labels.tolist()[:8]}... are invalid for a generator of {num_classes} classes; use integers in [0, {num_classes - 1}]."
        )
    return labels.long()


class Discriminator(nn.Module):
    """A discriminator maps a batch of samples to one raw logit per sample."""


def takes_labels(discriminator: nn.Module) -> bool:
    """Whether ``discriminator`` is class-conditional, called as ``D(x, labels)``: its ``forward`` takes a
    second positional argument (a projection D); an AC-GAN D, which predicts the class, takes ``x`` only."""
    try:
        parameters = inspect.signature(discriminator.forward).parameters.values()
    except (TypeError, ValueError):
        return False
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters) >= 2


def check_nets(generator: nn.Module, discriminator: nn.Module) -> None:
    """One sentence unless ``generator`` has ``latent_dim`` and ``sample_latent(n, device)`` and
    ``discriminator`` returns one logit per sample of ``generator``'s, shape ``(N,)`` or ``(N, 1)``
    (``D(x, labels)`` when both are class-conditional). Runs G and D once on two samples, in eval mode
    without gradients, and leaves the random number streams as they were."""
    g_name, d_name = type(generator).__name__, type(discriminator).__name__
    interface = "give it an integer `latent_dim` and a `sample_latent(n, device)` method (subclass datgan_lightning.nets.Generator)"
    require(hasattr(generator, "latent_dim") and callable(getattr(generator, "sample_latent", None)), "generator", g_name, interface)
    device = next(generator.parameters(), torch.empty(0)).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad(), eval_mode(generator, discriminator):
        try:
            z = generator.sample_latent(2, device)
            labels = generator.sample_labels(2, device) if is_conditional(generator) else None
            x = generator(z) if labels is None else generator(z, labels)
            out = discriminator(x, labels) if labels is not None and takes_labels(discriminator) else discriminator(x)
        except Exception as err:  # noqa: BLE001 - any failure here means the two nets do not fit together
            reason = " ".join(str(err).split())[:160]
            require(False, "discriminator", d_name, f"D(G(z)) failed on 2 samples of {g_name} ({type(err).__name__}: {reason}); "
                    "make D accept G's output (same shape, dtype and device)")
    shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
    require(isinstance(out, Tensor) and out.numel() == 2 and out.shape[0] == 2, "discriminator", d_name,
            f"it returned {shape} for 2 samples; return one logit per sample, shape (N,) or (N, 1)")


def check_data_shape(owner: str, generator: nn.Module, datamodule: object) -> None:
    """One sentence (:class:`~datgan_lightning.errors.ConfigurationError`) when the datamodule's
    ``image_shape`` differs from G's ``output_shape`` (either may be unknown: then nothing is checked)."""
    data_shape = getattr(datamodule, "image_shape", None)
    model_shape = getattr(generator, "output_shape", None)
    if data_shape is not None and model_shape is not None and tuple(data_shape) != tuple(model_shape):
        raise ConfigurationError(
            f"{owner} generates samples of shape {tuple(model_shape)} but {type(datamodule).__name__} yields "
            f"{tuple(data_shape)}; match the model's resolution/channels to the data or set the datamodule's "
            "image_size to the model's resolution."
        )


def batch_labels(batch: object, num_classes: int, owner: str) -> Tensor:
    """The class labels of an ``(x, y)`` batch, checked against ``num_classes``; one sentence naming ``owner``
    (the module) when the data has none (an unlabelled dataset marks its labels -1)."""
    labels = batch[1] if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
    if labels is None or (labels < 0).any():
        raise ValueError(
            f"{owner} is class-conditional but its data has no labels; use a labelled dataset "
            "(CIFAR-10, an image folder with class subfolders, an .npz with train_y)."
        )
    return check_labels(labels, num_classes)
