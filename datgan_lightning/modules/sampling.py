"""Sampling from a module's generator: ``G(z)`` or ``G(z, labels)`` with fresh latents and prior labels."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from datgan_lightning.checks import number
from datgan_lightning.nets.base import check_labels, is_conditional
from datgan_lightning.utils import eval_mode


class GeneratorSampling:
    """Sampling for a LightningModule with a ``generator`` (``latent_dim``, ``sample_latent``; for a
    class-conditional one ``num_classes`` and ``sample_labels``): the GAN modules and Rob-GAN fine-tuning."""

    generator: nn.Module
    device: torch.device

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z)

    def generate(self, n: int, labels: Tensor | None = None) -> Tensor:
        """``G(z)`` for ``n`` fresh latents, with gradients to G (``G(z, labels)`` for a class-conditional
        G, labels from the uniform class prior unless given)."""
        return self.generator(*self.generator_inputs(n, labels))

    def generator_inputs(self, n: int, labels: Tensor | None = None, z: Tensor | None = None) -> tuple[Tensor, ...]:
        """``(z,)`` for an unconditional G, ``(z, labels)`` for a class-conditional one; fresh latents
        unless ``z`` is given, labels from the uniform class prior unless given (checked)."""
        z = self.generator.sample_latent(n, self.device) if z is None else z
        if not is_conditional(self.generator):
            if labels is not None:
                raise ValueError(f"labels were given but {type(self.generator).__name__} is unconditional; drop them.")
            return (z,)
        num_classes = self.generator.num_classes
        labels = self.generator.sample_labels(len(z), self.device) if labels is None else check_labels(labels, num_classes, len(z))
        return (z, labels.to(z.device))

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator :meth:`sample` uses (a module with an EMA copy returns that)."""
        return self.generator

    @torch.no_grad()
    def sample(self, n: int | None = None, z: Tensor | None = None, labels: Tensor | None = None) -> Tensor:
        """``n`` samples (or ``G(z)`` for given latents) from :attr:`sampling_generator` in eval mode
        (BatchNorm running statistics), no gradients; a class-conditional G samples ``labels`` (one
        class index per sample), or classes from the uniform prior when they are not given."""
        if (n is None) == (z is None):
            raise ValueError("sample: pass exactly one of n (a number of samples) or z (a latent batch).")
        if n is not None:
            number(n, "sample: n", integer=True, minimum=1, fix="ask for at least one sample (an integer >= 1)")
        inputs = self.generator_inputs(n or 0, labels, z)
        with eval_mode(self.sampling_generator):
            return self.sampling_generator(*inputs)
