"""The GAN objective in plain PyTorch: D's loss, G's loss, the perturbation and the critic ``D∘T``.

:class:`GANObjective` holds what defines the training objective (the GAN loss, a perturbation strategy
and where it applies, the regularizers with their ``every`` phases, the augmentations and the forward
layout) and none of the nets, optimizers or loops: it is the loss object of stylegan2-ada-pytorch's
``StyleGAN2Loss``, with the nets passed as arguments. The :class:`~datgan_lightning.modules.GAN` module
calls it in its steps; a plain PyTorch loop can call it the same way (``docs/guides/own_loop.md``).
Class-conditional GANs pass the labels of the batch as arguments: the critic is then ``D(·, labels)``.

Example (DAT + R1 on a toy D, one D step and one G step by hand):
    >>> import torch
    >>> from datgan_lightning.adversarial import DAT
    >>> from datgan_lightning.regularizers import R1
    >>> G, D = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    >>> objective = GANObjective("hinge", perturbation=DAT(eps=0.1, data_range=None), regularizers=[R1()])
    >>> real, fake = torch.randn(8, 2), G(torch.randn(8, 2))
    >>> d_loss, d_real, d_fake = objective.discriminator_loss(D, real, fake.detach())
    >>> g_loss = objective.generator_loss(D, fake)
    >>> d_loss.shape, d_real.shape, g_loss.shape
    (torch.Size([]), torch.Size([8]), torch.Size([]))
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from datgan_lightning.adversarial.base import PerturbationStrategy
from datgan_lightning.augmentations.base import Augmentation, AugmentedDiscriminator
from datgan_lightning.checks import one_of, require
from datgan_lightning.losses import GANLoss, get_loss
from datgan_lightning.nets.conditional.labelled import LabelledDiscriminator
from datgan_lightning.regularizers.base import Regularizer
from datgan_lightning.utils import discriminate, full_precision, logits

#: where a perturbation can apply (``GANObjective(perturb_in=...)``): D's step (DAT), G's step, or both (Table IV)
PERTURB_IN = ("discriminator", "generator", "all")

#: ``perturb(discriminator, real, fake, labels) -> (real_adv, fake_adv)``: how a caller runs the attack
Perturb = Callable[[nn.Module, Tensor, Tensor, "Tensor | None"], "tuple[Tensor, Tensor]"]


class GANObjective:
    """The losses of one D step and one G step (Algorithm 1 of the DAT paper, lines 3-13).

    Args:
        loss: GAN loss, a name (``ns``, ``minimax``, ``hinge``, ``wasserstein``, ``lsgan``) or a ``GANLoss``.
        perturbation: a strategy from :mod:`datgan_lightning.adversarial` (DAT, FGSM, PGD, ...), or
            ``None`` for a plain GAN. One without a loss gets this objective's (a copy: the caller's
            object is not changed).
        perturb_in: where it applies: ``"discriminator"`` (DAT), ``"generator"`` or ``"all"`` (Table IV).
        regularizers: terms added to D's loss; each sees the batches D's GAN loss saw (perturbed when a
            perturbation is set) and D's logits on them. One with ``every=k`` counts on D steps
            ``0, k, 2k, ...``, multiplied by ``k`` (lazy regularization). Those without a loss get this one's.
        augmentations: differentiable transforms of every image D sees (``D∘T``): the GAN losses, the
            attack and the regularizers all call the critic.
        joint_forward: run D once on real+fake; ``None`` does so unless D has training-mode BatchNorm.

    Regularizer and augmentation state (LeCam's anchors, ADA's ``p``) lives in :attr:`regularizers` and
    :attr:`augmentations` (``nn.ModuleList``); the GAN module registers them, a plain loop moves them
    with :meth:`to`.
    """

    def __init__(
        self,
        loss: str | GANLoss = "ns",
        perturbation: PerturbationStrategy | None = None,
        perturb_in: Literal["discriminator", "generator", "all"] = "discriminator",
        regularizers: Sequence[Regularizer] = (),
        augmentations: Sequence[Augmentation] = (),
        joint_forward: bool | None = None,
    ) -> None:
        one_of(perturb_in, "perturb_in", PERTURB_IN)
        require(perturbation is None or isinstance(perturbation, PerturbationStrategy), "perturbation", perturbation,
                "use a strategy from datgan_lightning.adversarial (DAT, FGSM, PGD) or None")
        for regularizer in regularizers:
            require(isinstance(regularizer, Regularizer), "regularizers", regularizer, "list regularizers from datgan_lightning.regularizers (GP, R1, AR, ...)")
        for augmentation in augmentations:
            require(isinstance(augmentation, Augmentation), "augmentations", augmentation, "list augmentations from datgan_lightning.augmentations (DiffAugment, ...)")
        require(perturbation is None or perturbation.keeps_batch_size or perturb_in == "discriminator", "perturb_in", perturb_in,
                f"{type(perturbation).__name__} returns clean and perturbed samples together, which only the D step can use; use perturb_in='discriminator'")
        self.loss = get_loss(loss)
        if perturbation is not None and perturbation.loss is None:
            perturbation = copy.copy(perturbation)
            perturbation.loss = self.loss
        self.perturbation = perturbation
        self.perturb_in = perturb_in
        self.regularizers = nn.ModuleList(_with_loss(r, self.loss) for r in regularizers)
        self.augmentations = nn.ModuleList(augmentations)
        self.joint_forward = joint_forward

    @property
    def perturbs_discriminator(self) -> bool:
        return self.perturbation is not None and self.perturb_in in ("discriminator", "all")

    @property
    def perturbs_generator(self) -> bool:
        return self.perturbation is not None and self.perturb_in in ("generator", "all")

    def to(self, *args: Any, **kwargs: Any) -> GANObjective:
        """Move the regularizers' and augmentations' state (``nn.Module.to``'s arguments)."""
        self.regularizers.to(*args, **kwargs)
        self.augmentations.to(*args, **kwargs)
        return self

    def critic(self, discriminator: nn.Module, labels: Tensor | None = None) -> nn.Module:
        """What the losses, the attack and the regularizers call as D: ``D``, ``D(·, labels)`` for a
        class-conditional D, then ``∘T`` with the augmentations (views sharing D's weights)."""
        critic = discriminator if labels is None else LabelledDiscriminator(discriminator, labels)
        return AugmentedDiscriminator(critic, self.augmentations) if len(self.augmentations) else critic

    def perturb(self, discriminator: nn.Module, real: Tensor, fake: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The strategy's ``(real_adv, fake_adv)`` through the critic, in full precision outside autocast:
        under bf16 ``mean D(real)`` and ``mean D(fake)`` round to one value once they are within ~1%,
        DAT's objective then has gradient 0 and the perturbation silently vanishes; fp16 input gradients
        of 1/N-scaled objectives underflow, and GradScaler does not scale ``torch.autograd.grad``."""
        real, fake = full_precision(real), full_precision(fake)
        with torch.autocast(real.device.type, enabled=False):
            return self.perturbation(self.critic(discriminator, labels), real, fake)

    def discriminator_loss(
        self, discriminator: nn.Module, real: Tensor, fake: Tensor, labels: Tensor | None = None, step: int = 0,
        perturb: Perturb | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``-(g1(D(x_r')) + g2(D(x_f')))`` batch-averaged plus the regularizers due at D step ``step``,
        and D's logits on the (perturbed) real and fake batches. ``fake`` should carry no gradient to G
        (``G(z).detach()``). ``perturb`` replaces :meth:`perturb` (the GAN module attacks the global batch
        under data parallelism)."""
        if self.perturbs_discriminator:
            real, fake = (perturb or self.perturb)(discriminator, real, fake, labels)
        critic = self.critic(discriminator, labels)
        d_real, d_fake = discriminate(critic, real, fake, self.joint_forward)
        loss = self.loss.discriminator_loss(d_real, d_fake)
        return loss + self.regularization(critic, real, fake, d_real, d_fake, step), d_real, d_fake

    def regularization(self, critic: nn.Module, real: Tensor, fake: Tensor, d_real: Tensor, d_fake: Tensor, step: int = 0) -> Tensor | float:
        """The regularizers' terms due at D step ``step``: one with ``every=k`` counts on steps 0, k, 2k,
        ... and is multiplied by k there, so its average weight stays ``weight``."""
        total: Tensor | float = 0.0
        for regularizer in self.regularizers:
            if step % regularizer.every == 0:
                total = total + regularizer.every * regularizer(critic, real, fake, d_real, d_fake)
        return total

    def generator_loss(
        self, discriminator: nn.Module, fake: Tensor, real: Tensor | None = None, labels: Tensor | None = None,
        perturb: Perturb | None = None,
    ) -> Tensor:
        """G's loss on ``fake = G(z)`` (with its graph). With ``perturb_in`` ``"generator"``/``"all"`` the
        fakes are shifted by the strategy's detached delta (gradient still reaches G); the real batch is
        then the attack's reference and must be given."""
        if self.perturbs_generator:
            require(real is not None, "real", real, "pass the real batch: the generator-step perturbation attacks against it")
            _, fake_adv = (perturb or self.perturb)(discriminator, real, fake, labels)
            fake = fake + (fake_adv - fake.detach())
        return self.loss.generator_loss(logits(self.critic(discriminator, labels), fake))

    def observe(self, d_real: Tensor) -> None:
        """Show adaptive augmentations (ADA) D's logits on the real batch: call once per D step."""
        for augmentation in self.augmentations:
            augmentation.observe(d_real.detach())

    def log_values(self) -> dict[str, Any]:
        """``{"augmentation/p": ..., "regularizer/...": ..., "perturbation/...": ...}``: what the parts
        report through their ``log_values()`` (ADA's ``p``, LeCam's anchors, the perturbation's size)."""
        parts = [("augmentation", a) for a in self.augmentations] + [("regularizer", r) for r in self.regularizers]
        parts += [("perturbation", self.perturbation)] if self.perturbation is not None else []
        return {f"{name}/{key}": value for name, part in parts for key, value in getattr(part, "log_values", dict)().items()}


def _with_loss(regularizer: Regularizer, loss: GANLoss) -> Regularizer:
    """``regularizer``, or a copy of it using ``loss`` when it has none (the caller's object stays as it was)."""
    if regularizer.loss is not None:
        return regularizer
    regularizer = copy.deepcopy(regularizer)
    regularizer.loss = loss
    return regularizer
