"""A class-conditional discriminator ``D(x, labels)`` seen as ``D(x)``, so the perturbation strategies, the
regularizers and the augmentations, which call ``D(x)``, work on it unchanged."""

from __future__ import annotations

from torch import Tensor, nn


class LabelledDiscriminator(nn.Module):
    """``x -> D(x, labels)`` with ``labels`` bound: one class index per row of the real batch.

    A batch of ``k`` times the labels' length gets the labels repeated ``k`` times, in order, which is
    how the library stacks batches: ``cat([real, fake])`` (joint forward), ``cat([clean, perturbed])``
    (DATT). This holds when real row ``i`` and fake row ``i`` share a class (the fakes are drawn with
    the real batch's labels); then an interpolate of the two, or either one perturbed, keeps that class
    too. A view sharing D's weights, built per step and never checkpointed.

    Raises:
        ValueError: a batch whose length is not a multiple of the labels' length.

    Example:
        >>> import torch
        >>> from datgan_lightning.nets.conditional import projection_discriminator
        >>> D = projection_discriminator(32, num_classes=3, ndf=4)
        >>> critic = LabelledDiscriminator(D, torch.tensor([0, 2]))
        >>> critic(torch.zeros(4, 3, 32, 32)).shape  # [real; fake], labels [0, 2, 0, 2]
        torch.Size([4, 1])
    """

    def __init__(self, discriminator: nn.Module, labels: Tensor) -> None:
        super().__init__()
        self.discriminator = discriminator
        self.labels = labels
        self.training = discriminator.training  # a mode saved and restored through the view is D's

    def forward(self, x: Tensor) -> Tensor:
        copies, rest = divmod(len(x), len(self.labels))
        if rest:
            raise ValueError(
                f"a batch of {len(x)} samples cannot be labelled with the step's {len(self.labels)} labels; "
                "a conditional D sees batches of the real batch's size or multiples of it (real and fake stacked)."
            )
        return self.discriminator(x, self.labels.repeat(copies))

    def features(self, x: Tensor) -> Tensor:
        """D's penultimate features (RFM), which do not depend on the labels."""
        return self.discriminator.features(x)
