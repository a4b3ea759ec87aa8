"""Rob-GAN step 2 (Liu & Hsieh 2019): fine-tune the co-trained AC-GAN D as a robust classifier, by
composition: the module holds the trained nets, an Adam and a stock ``MultiStepLR``."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from torch import Tensor, nn
from torch.optim.lr_scheduler import MultiStepLR

from datgan_lightning.adversarial.pgd import label_attack
from datgan_lightning.checks import number, one_of, optional_number, require
from datgan_lightning.modules.robgan import GENERATORS, NET_ARGS, RobGAN
from datgan_lightning.modules.sampling import GeneratorSampling
from datgan_lightning.nets.base import batch_labels
from datgan_lightning.nets.conditional import ac_discriminator
from datgan_lightning.utils import eval_mode


class RobGANFinetune(GeneratorSampling, LightningModule):
    """Fine-tune a co-trained D as a classifier on adversarial reals and fakes, ``CE(real_adv) +
    lam * CE(fake_adv)`` (the authors' ``finetune.py``).

    Both batches are attacked with the label PGD of :func:`~datgan_lightning.adversarial.pgd.label_attack`
    (``finetune_steps`` 5 sign steps of ``finetune_step_size``, default ``finetune_eps / 5``, in the
    ``finetune_eps`` ball, D in eval mode; ``finetune_eps=0`` trains on clean images); fakes are ``G(z, y)``
    of the frozen G in eval mode. Only the class loss is minimised, so D's real/fake head never changes;
    ``train="classifier"`` (the authors': their optimizer holds all of D) updates the features and the class
    head, ``train="head"`` only the class head. Adam (betas (0.9, 0.999), the authors' default) at ``lr``,
    divided by 10 at each stage boundary (``MultiStepLR``) with fresh moments (their stages: 20, 20, 10, 10
    epochs, here relative lengths over ``max_iterations`` steps, counted in ``generator_iterations``).

    Args:
        checkpoint: a :class:`~datgan_lightning.modules.RobGAN` checkpoint whose G and D (with their sizes)
            replace this module's when training or evaluation starts (:meth:`load_cotrained_nets`, called by
            ``setup``); ``None`` keeps the nets built from the net arguments: with ``lam=0`` this is Madry's
            adversarial training of the same classifier on reals only (Rob-GAN Table 1's baseline,
            ``configs/robgan/cifar10_subset_cpu_madry.yaml``), or plain training with ``finetune_eps=0``.
        generator, discriminator: the nets themselves (Python use, e.g. a trained ``RobGAN``'s); ``None``
            builds Rob-GAN's nets from ``num_classes``, ``resolution``, ``latent_dim``, ``ngf``, ``ndf``,
            ``channels``, ``spectral_norm``.
        lam: weight of the fake term. METHODS.md gives 0.3-0.8; the authors' only script used 0.
        lr, stages, train, finetune_eps, finetune_steps, finetune_step_size: see above.
        max_iterations: the number of fine-tuning steps.

    Example:
        >>> ft = RobGANFinetune(num_classes=3, ngf=2, ndf=2, max_iterations=60)
        >>> tuple(round(lr, 6) for lr in ft.stage_lrs()[::10])
        (0.001, 0.001, 0.0001, 0.0001, 1e-05, 1e-06)
    """

    def __init__(
        self,
        checkpoint: str | None = None,
        num_classes: int = 10,
        resolution: int = 32,
        latent_dim: int = 128,
        ngf: int = 64,
        ndf: int = 64,
        channels: int = 3,
        spectral_norm: bool = False,
        lam: float = 0.5,
        lr: float = 1e-3,
        stages: tuple[int, ...] = (20, 20, 10, 10),
        train: Literal["classifier", "head"] = "classifier",
        finetune_eps: float = 0.03125,
        finetune_steps: int = 5,
        finetune_step_size: float | None = None,
        max_iterations: int = 100_000,
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["generator", "discriminator"])
        one_of(train, "train", ("classifier", "head"))
        one_of(resolution, "resolution", tuple(GENERATORS))
        self.lam = number(lam, "lam", minimum=0)
        self.lr = number(lr, "lr", above=0)
        require(isinstance(stages, (list, tuple)) and len(stages) > 0, "stages", stages, "use a list of positive relative stage lengths, e.g. [20, 20, 10, 10]")
        self.stages = [number(s, "stages", integer=True, minimum=1) for s in stages]
        self.finetune_eps = number(finetune_eps, "finetune_eps", minimum=0)
        self.finetune_steps = number(finetune_steps, "finetune_steps", integer=True, minimum=0)
        step_size = optional_number(finetune_step_size, "finetune_step_size", minimum=0)
        self.finetune_step_size = self.finetune_eps / 5 if step_size is None else step_size
        self.max_iterations = number(max_iterations, "max_iterations", integer=True, minimum=1)
        self.train_what, self.checkpoint = train, checkpoint
        self.generator = generator or GENERATORS[resolution](num_classes, latent_dim, ngf, channels)
        self.discriminator = discriminator or ac_discriminator(resolution, num_classes, ndf, channels, spectral_norm)
        self.generator.requires_grad_(False)
        self.generator_iterations = 0
        self.automatic_optimization = False

    def load_cotrained_nets(self) -> None:
        """Replace G and D by the ``checkpoint``'s (once), and record their sizes in the hyperparameters so
        a checkpoint of this module rebuilds the same nets without the co-training checkpoint."""
        if self.checkpoint is None:
            return
        cotrained = RobGAN.load_from_checkpoint(self.checkpoint, map_location="cpu")
        self.generator, self.discriminator = cotrained.generator.requires_grad_(False), cotrained.discriminator
        self.hparams.update({k: v for k, v in cotrained.hparams.items() if k in NET_ARGS})
        self.checkpoint = self.hparams["checkpoint"] = None

    def setup(self, stage: str) -> None:
        self.load_cotrained_nets()  # before the optimizer is built and before a --ckpt_path restores the weights

    def finetuned_parameters(self) -> list[nn.Parameter]:
        D = self.discriminator
        return list(D.l_class.parameters()) if self.train_what == "head" else D.classifier_parameters()

    def milestones(self) -> list[int]:
        """The steps at which a stage starts (after the first), over ``max_iterations`` steps."""
        total, bounds = sum(self.stages), torch.tensor(self.stages, dtype=torch.float64).cumsum(0)
        return [math.ceil(b * self.max_iterations / total) for b in bounds[:-1].tolist()]

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.finetuned_parameters(), lr=self.lr)
        return [optimizer], [MultiStepLR(optimizer, self.milestones(), gamma=0.1)]

    def stage_lrs(self) -> list[float]:
        """The LR of every step, as the schedule gives it (for inspection)."""
        optimizer = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=self.lr)
        schedule, lrs = MultiStepLR(optimizer, self.milestones(), gamma=0.1), []
        for _ in range(self.max_iterations):
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            schedule.step()
        return lrs

    def adversarial(self, x: Tensor, labels: Tensor) -> Tensor:
        # Deviation, kept on purpose: the authors' finetune.py attacks and draws fakes with D and G in
        # training mode; here both are in eval mode, so fine-tuning changes nothing but the classifier
        # (G's BatchNorm running statistics and any spectral-norm vectors stay as co-training left them).
        with eval_mode(self.discriminator):
            return label_attack(self.discriminator.classify, x, labels, self.finetune_eps, self.finetune_steps, self.finetune_step_size)

    def finetune_loss(self, real: Tensor, labels: Tensor) -> Tensor:
        loss = F.cross_entropy(self.discriminator.classify(self.adversarial(real, labels)), labels)
        if self.lam > 0:
            fake_labels = self.generator.sample_labels(len(real), self.device)
            fake = self.sample(len(real), labels=fake_labels)
            loss = loss + self.lam * F.cross_entropy(self.discriminator.classify(self.adversarial(fake, fake_labels)), fake_labels)
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real, labels = batch[0], batch_labels(batch, self.discriminator.num_classes, type(self).__name__).to(self.device)
        optimizer, schedule = self.optimizers(), self.lr_schedulers()
        if self.generator_iterations in schedule.milestones:
            optimizer.optimizer.state.clear()  # a new stage: the authors build a fresh Adam
        lr = optimizer.param_groups[0]["lr"]
        loss = self.finetune_loss(real, labels)
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()
        schedule.step()
        self.generator_iterations += 1
        if self.generator_iterations >= self.max_iterations:
            self.trainer.should_stop = True
        every = self.trainer.log_every_n_steps
        if every > 0 and (self.generator_iterations % every == 0 or self.trainer.should_stop):
            self.log_dict({"loss/finetune": loss.detach(), "lr": lr}, on_step=True, on_epoch=False)
            self.log("generator_iterations", float(self.generator_iterations), on_step=True, on_epoch=False, prog_bar=True)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> int | None:
        if self.generator_iterations >= self.max_iterations:  # resumed from a finished checkpoint
            self.trainer.should_stop = True
            return -1
        return None

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Nothing per batch: :class:`~datgan_lightning.callbacks.ClassifierRobustness` scores D's classifier."""

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """Nothing per batch, as :meth:`validation_step`."""

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["generator_iterations"] = self.generator_iterations

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.generator_iterations = checkpoint.get("generator_iterations", 0)
