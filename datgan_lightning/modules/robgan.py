"""Rob-GAN (Liu & Hsieh 2019): a class-conditional GAN whose AC-GAN discriminator is co-trained on
PGD-attacked real images, then fine-tuned as a robust classifier (METHODS.md, "Rob-GAN")."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from datgan_lightning.adversarial.pgd import label_attack, pgd_ascent
from datgan_lightning.modules.gan import GAN
from datgan_lightning.nets.conditional import ac_discriminator, generator32, generator64

GENERATORS = {32: generator32, 64: generator64}
CLASS_LOSSES = ("split", "acgan")
NET_ARGS = ("num_classes", "resolution", "latent_dim", "ngf", "ndf", "channels", "spectral_norm")


def real_loss(logit: Tensor, class_logits: Tensor, labels: Tensor, reduction: str = "mean") -> Tensor:
    """``0.5 BCE(logit, 1) + 0.5 CE(class_logits, labels)``: D's loss on reals (Rob-GAN's ``loss_nll``,
    lam 0.5), G's loss on its fakes, and what the co-training attack maximises."""
    bce = F.binary_cross_entropy_with_logits(logit.reshape(-1), torch.ones_like(logit.reshape(-1)), reduction=reduction)
    return 0.5 * bce + 0.5 * F.cross_entropy(class_logits, labels, reduction=reduction)


def fake_loss(logit: Tensor, class_logits: Tensor, labels: Tensor, class_loss: str = "split") -> Tensor:
    """D's loss on fakes: ``BCE(logit, 0)`` with the split loss (no class term on fakes, lam 1), or the
    original AC-GAN's ``0.5 BCE(logit, 0) + 0.5 CE(class_logits, labels)`` with the fakes' sampled labels."""
    bce = F.binary_cross_entropy_with_logits(logit.reshape(-1), torch.zeros_like(logit.reshape(-1)))
    return bce if class_loss == "split" else 0.5 * bce + 0.5 * F.cross_entropy(class_logits, labels)


class RobGAN(GAN):
    """Rob-GAN co-training: class-conditional G (conditional BatchNorm), AC-GAN D.

    Each D step attacks the **real** batch with PGD maximising D's real loss :func:`real_loss` (D in eval
    mode, sign steps of ``attack_step_size``, projected on the L-inf ``attack_eps`` ball, clamped to
    [-1, 1], no random start; fakes are not attacked), then minimises ``real_loss(real_adv) +
    fake_loss(fake)``; G minimises :func:`real_loss` on ``G(z, y)`` with ``y`` from the uniform prior.
    Labels come from ``(x, y)`` batches (an unlabelled dataset or labels outside ``[0, num_classes)``
    stop with one sentence). D's ``forward(x)`` is its real/fake logit, so regularizers and the
    robustness callbacks apply unchanged.

    Differences from the authors' ``train.py``: G steps after each ``n_dis`` D steps (theirs before);
    their LR halving every 50 epochs is not built in (``lr_decay`` ``"none"`` or ``"linear"``).

    Args:
        num_classes: classes of the data (CIFAR-10: 10; the ImageNet subset: 143).
        resolution: 32 or 64 (the paper's nets, ``ngf = ndf = 64``).
        latent_dim, ngf, ndf, channels: G's z size, widths, image channels.
        spectral_norm: spectral norm in D (the authors' D has none).
        class_loss: ``"split"`` (the paper's) or ``"acgan"`` (the original AC-GAN loss, the ablation).
        attack_eps, attack_steps, attack_step_size: the co-training PGD (0.03125, 5, 0.0078);
            ``attack_steps=0`` trains a plain AC-GAN.
        kwargs: the other arguments of :class:`GAN` (n_dis 5, Adam 2e-4, betas (0, 0.9), ``regularizers``, ...).

    Example:
        >>> gan = RobGAN(num_classes=3, ngf=2, ndf=2)
        >>> gan.sample(2, labels=torch.tensor([0, 2])).shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(
        self,
        num_classes: int = 10,
        resolution: int = 32,
        latent_dim: int = 128,
        ngf: int = 64,
        ndf: int = 64,
        channels: int = 3,
        spectral_norm: bool = False,
        class_loss: Literal["split", "acgan"] = "split",
        attack_eps: float = 0.03125,
        attack_steps: int = 5,
        attack_step_size: float = 0.0078,
        n_dis: int = 5,
        lr_decay: Literal["linear", "none"] = "none",
        **kwargs: Any,
    ) -> None:
        if resolution not in GENERATORS:
            raise ValueError(f"resolution={resolution!r} is invalid; Rob-GAN nets exist for {sorted(GENERATORS)} pixels.")
        if class_loss not in CLASS_LOSSES:
            raise ValueError(f"class_loss={class_loss!r} is invalid; use one of {CLASS_LOSSES}.")
        if kwargs.get("perturbation") is not None or kwargs.get("loss", "ns") != "ns":
            raise ValueError("RobGAN attacks reals with its own PGD and uses the BCE (ns) loss; set attack_* instead of perturbation/loss.")
        if kwargs.get("augmentations"):
            raise ValueError("augmentations are not supported by RobGAN (its losses call D's two heads directly); remove them.")
        if attack_eps < 0 or attack_steps < 0 or attack_step_size < 0:
            raise ValueError(f"attack_eps={attack_eps}, attack_steps={attack_steps}, attack_step_size={attack_step_size} must be >= 0.")
        generator = GENERATORS[resolution](num_classes, latent_dim, ngf, channels)
        discriminator = ac_discriminator(resolution, num_classes, ndf, channels, spectral_norm)
        super().__init__(generator, discriminator, n_dis=n_dis, lr_decay=lr_decay, **kwargs)
        self.class_loss = class_loss
        self.attack_eps, self.attack_steps, self.attack_step_size = attack_eps, int(attack_steps), attack_step_size
        self._labels: Tensor | None = None

    def real_samples(self, batch: Any) -> Tensor:
        # GAN.training_step hands only the images to the steps: keep this batch's labels for them
        self._labels = self.real_labels(batch).to(self.device)
        return super().real_samples(batch)

    def attack(self, real: Tensor, labels: Tensor) -> Tensor:
        """Rob-GAN's co-training attack: PGD maximising :func:`real_loss` with D in eval mode (restored)."""
        D, was_training = self.discriminator, self.discriminator.training
        D.eval()
        try:
            return pgd_ascent(lambda x: real_loss(*D.forward_both(x), labels, reduction="sum"), real,
                              self.attack_eps, self.attack_steps, self.attack_step_size)  # fmt: skip
        finally:
            D.train(was_training)

    def discriminator_step(self, real: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        labels, fake_labels = self._labels, self.generator.sample_labels(len(real), self.device)
        with torch.no_grad():
            fake = self.generate(len(real), fake_labels)
        real = self.attack(real, labels)
        (d_real, c_real), (d_fake, c_fake) = self.discriminator.forward_both(real), self.discriminator.forward_both(fake)
        d_real, d_fake = d_real.reshape(-1), d_fake.reshape(-1)
        loss = real_loss(d_real, c_real, labels) + fake_loss(d_fake, c_fake, fake_labels, self.class_loss)
        return loss + self.regularization(real, fake, d_real, d_fake), d_real, d_fake

    def generator_step(self, real: Tensor) -> Tensor:
        labels = self.generator.sample_labels(len(real), self.device)
        return real_loss(*self.discriminator.forward_both(self.generate(len(real), labels)), labels)


class RobGANFinetune(RobGAN):
    """Rob-GAN step 2: fine-tune the co-trained D as a classifier on adversarial reals and fakes,
    ``CE(real_adv) + lam * CE(fake_adv)`` (the authors' ``finetune.py``).

    Both batches are attacked with the label PGD of :func:`label_attack` (``finetune_steps`` 5 sign steps of
    ``finetune_step_size``, default ``finetune_eps / 5``, in the ``finetune_eps`` ball, D in eval mode;
    ``finetune_eps=0`` trains on clean images); fakes are ``G(z, y)`` of the frozen
    G. Only the class loss is minimised, so D's real/fake head never changes; ``train="classifier"`` (the
    authors': their optimizer holds all of D) updates the features and the class head,
    ``train="head"`` only the class head. Adam (betas (0.9, 0.999), the authors' default) at ``lr``,
    divided by 10 at each stage boundary with fresh moments (their stages: 20, 20, 10, 10 epochs,
    here relative lengths over ``max_iterations`` optimizer steps, counted in ``generator_iterations``).

    Args:
        checkpoint: a :class:`RobGAN` checkpoint; its nets (and their sizes, which override this
            module's net arguments) are loaded. ``None`` starts from fresh nets: with ``lam=0`` this is
            Madry's adversarial training of the same classifier on reals only (Rob-GAN Table 1's baseline,
            ``configs/robgan/cifar10_subset_cpu_madry.yaml``), or plain training with ``finetune_eps=0``.
        lam: weight of the fake term. METHODS.md gives 0.3-0.8; the authors' only script used 0.
        lr, stages, train, finetune_eps, finetune_steps, finetune_step_size: see above.
        kwargs: the arguments of :class:`RobGAN` (nets; ``max_iterations`` is the number of steps).
    """

    def __init__(
        self,
        checkpoint: str | None = None,
        lam: float = 0.5,
        lr: float = 1e-3,
        stages: tuple[int, ...] = (20, 20, 10, 10),
        train: Literal["classifier", "head"] = "classifier",
        finetune_eps: float = 0.03125,
        finetune_steps: int = 5,
        finetune_step_size: float | None = None,
        **kwargs: Any,
    ) -> None:
        state = None
        if checkpoint is not None:
            saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
            kwargs.update({k: v for k, v in saved["hyper_parameters"].items() if k in NET_ARGS})
            state = saved["state_dict"]
        if train not in ("classifier", "head"):
            raise ValueError(f"train={train!r} is invalid; use 'classifier' (features and class head) or 'head'.")
        if lam < 0 or lr <= 0 or not stages or min(stages) < 1:
            raise ValueError(f"lam={lam}, lr={lr}, stages={stages} are invalid; use lam >= 0, lr > 0 and stages of >= 1.")
        if finetune_eps < 0 or finetune_steps < 0 or (finetune_step_size is not None and finetune_step_size < 0):
            raise ValueError(f"finetune_eps={finetune_eps}, finetune_steps={finetune_steps}, finetune_step_size={finetune_step_size} "
                             "are invalid; use values >= 0 (finetune_step_size None: finetune_eps / 5).")  # fmt: skip
        super().__init__(**kwargs)
        if state is not None:
            nets = {k: v for k, v in state.items() if k.startswith(("generator.", "discriminator."))}
            self.load_state_dict(nets, strict=False)
        self.generator.requires_grad_(False)
        self.lam, self.lr, self.train_what = lam, lr, train
        self.stages = [int(s) for s in stages]
        self.finetune_eps, self.finetune_steps = finetune_eps, int(finetune_steps)
        self.finetune_step_size = finetune_eps / 5 if finetune_step_size is None else finetune_step_size

    def finetuned_parameters(self) -> list[nn.Parameter]:
        D = self.discriminator
        return list(D.l_class.parameters()) if self.train_what == "head" else D.classifier_parameters()

    def configure_optimizers(self):
        return torch.optim.Adam(self.finetuned_parameters(), lr=self.lr)

    def stage_lr(self, step: int) -> float:
        """``lr / 10**k`` in stage ``k`` of ``stages`` spread over ``max_iterations`` steps."""
        bounds = torch.tensor(self.stages, dtype=torch.float64).cumsum(0) / sum(self.stages) * self.max_iterations
        return self.lr / 10 ** int((bounds <= step).sum().clamp(max=len(self.stages) - 1))

    def adversarial(self, x: Tensor, labels: Tensor) -> Tensor:
        # Deviation, kept on purpose: the authors' finetune.py attacks and draws fakes with D and G in
        # training mode; here both are in eval mode, so fine-tuning changes nothing but the classifier
        # (G's BatchNorm running statistics and any spectral-norm vectors stay as co-training left them).
        D, was_training = self.discriminator, self.discriminator.training
        D.eval()
        try:
            return label_attack(D.classify, x, labels, self.finetune_eps, self.finetune_steps, self.finetune_step_size)
        finally:
            D.train(was_training)

    def finetune_loss(self, real: Tensor, labels: Tensor) -> Tensor:
        loss = F.cross_entropy(self.discriminator.classify(self.adversarial(real, labels)), labels)
        if self.lam > 0:
            fake_labels = self.generator.sample_labels(len(real), self.device)
            fake = self.sample(len(real), labels=fake_labels)
            loss = loss + self.lam * F.cross_entropy(self.discriminator.classify(self.adversarial(fake, fake_labels)), fake_labels)
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = self.in_training_layout(self.real_samples(batch))
        optimizer = self.optimizers()
        lr = self.stage_lr(self.generator_iterations)
        for group in optimizer.param_groups:
            if group["lr"] != lr:  # a new stage: the authors build a fresh Adam
                group["lr"] = lr
                optimizer.optimizer.state.clear() if hasattr(optimizer, "optimizer") else optimizer.state.clear()
        loss = self.finetune_loss(real, self._labels)
        self.optimizer_step(optimizer, loss)
        self.generator_iterations += 1
        if self.generator_iterations >= self.max_iterations:
            self.trainer.should_stop = True
        if self._logs_this_step():
            self.log_dict({"loss/finetune": loss.detach(), "lr": lr}, on_step=True, on_epoch=False)
            self.log("generator_iterations", float(self.generator_iterations), on_step=True, on_epoch=False, prog_bar=True)
