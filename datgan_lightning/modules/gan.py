"""The GAN LightningModule: Algorithm 1 of the DAT paper over a plain-PyTorch objective."""

from __future__ import annotations

from typing import Any, Literal

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from datgan_lightning.adversarial.base import PerturbationStrategy
from datgan_lightning.augmentations.base import Augmentation
from datgan_lightning.checks import check_finite, number, one_of, optional_number, pair, require
from datgan_lightning.distributed import is_distributed, seed_per_rank
from datgan_lightning.modules.optim import callable_config, ema_copy, from_config, optimizer_and_schedule, reaim_linear_decay
from datgan_lightning.modules.sampling import GeneratorSampling
from datgan_lightning.nets.base import batch_labels, check_data_shape, check_nets, is_conditional, takes_labels
from datgan_lightning.objective import GANObjective
from datgan_lightning.regularizers.base import Regularizer
from datgan_lightning.utils import compile_nets

LR_DECAYS = ("linear", "none")
BETAS = "use two numbers in [0, 1), e.g. [0.5, 0.999]"


class GAN(GeneratorSampling, LightningModule):
    """A GAN trained with manual optimization, one training batch per D step.

    One *generator iteration* is ``n_dis`` discriminator steps, each on a fresh real batch,
    followed by one generator step (Algorithm 1; Mimicry's loop). Training length, LR decay
    and the ``generator_iterations`` counter (checkpointed) are in these units, not in
    ``trainer.global_step``, which counts every optimizer step. The losses come from
    :attr:`objective`; a variant overrides :meth:`discriminator_step` and :meth:`generator_step`
    (and :meth:`discriminator_parameters` for heads on D). With a class-conditional G the batches
    are ``(x, y)`` and the labels are passed to both steps.

    Args:
        generator: a module with ``latent_dim`` and ``sample_latent(n, device)`` mapping ``z`` to samples
            (``G(z, labels)`` with ``num_classes > 0``); :class:`~datgan_lightning.nets.Generator` has both.
        discriminator: a module returning one logit per sample (``D(x, labels)`` if its ``forward`` takes
            labels and G is class-conditional). Both are checked on two samples when the module is built.
        loss, perturbation, perturb_in, joint_forward, regularizers, augmentations: the training objective,
            :class:`~datgan_lightning.objective.GANObjective` (:attr:`objective`); the strategies,
            regularizers and augmentations may also be given as their ``config()`` dicts (checkpoints).
        n_dis: discriminator steps per generator step.
        lr_g, lr_d, betas_g, betas_d: Adam settings of G and D (the default optimizers).
        max_iterations: training length in generator iterations; also the horizon of the LR decay.
        lr_decay: ``"linear"`` (to zero at ``max_iterations``, per generator iteration) or ``"none"``.
        optimizer_g, optimizer_d: another optimizer for G / D, a callable taking the parameters (in a
            config: ``class_path: torch.optim.SGD`` with its ``init_args``); it replaces the Adam of
            ``lr_*``/``betas_*``. ``None``: that Adam.
        scheduler_g, scheduler_d: an LR schedule for G's / D's optimizer, a callable taking the optimizer
            (e.g. ``torch.optim.lr_scheduler.StepLR``), stepped once per generator iteration, so its
            periods count generator iterations; it replaces ``lr_decay`` for that net. ``None``: ``lr_decay``.
        ema_decay: keep an exponential moving average of G's weights (and buffers) with this decay,
            e.g. 0.999, updated after every generator step; :meth:`sample` then uses it. ``None``: off.
        channels_last: nets' conv weights and training images in ``channels_last`` memory format: the
            same math (up to float rounding), faster convolutions on most hardware (``benchmarks/RESULTS.md``).
        compile: ``torch.compile`` G and D in place when training starts; ``True`` or a dict of its options
            (:func:`~datgan_lightning.utils.compile_nets`: a spectral-norm D stays eager, with a warning).

    Example:
        >>> from datgan_lightning.nets import MLPDiscriminator, MLPGenerator
        >>> from datgan_lightning.adversarial import DAT
        >>> gan = GAN(MLPGenerator(), MLPDiscriminator(), perturbation=DAT(eps=1.0, data_range=None))
        >>> gan.sample(3).shape
        torch.Size([3, 2])
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        loss: str = "ns",
        perturbation: PerturbationStrategy | None = None,
        perturb_in: Literal["discriminator", "generator", "all"] = "discriminator",
        n_dis: int = 1,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas_g: tuple[float, float] = (0.0, 0.9),
        betas_d: tuple[float, float] = (0.0, 0.9),
        max_iterations: int = 100_000,
        lr_decay: Literal["linear", "none"] = "linear",
        joint_forward: bool | None = None,
        regularizers: list[Regularizer] | None = None,
        augmentations: list[Augmentation] | None = None,
        ema_decay: float | None = None,
        channels_last: bool = False,
        optimizer_g: OptimizerCallable | None = None,
        optimizer_d: OptimizerCallable | None = None,
        scheduler_g: LRSchedulerCallable | None = None,
        scheduler_d: LRSchedulerCallable | None = None,
        compile: bool | dict[str, Any] = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["generator", "discriminator", "perturbation", "regularizers", "augmentations"])
        factories = {"optimizer_g": optimizer_g, "optimizer_d": optimizer_d, "scheduler_g": scheduler_g, "scheduler_d": scheduler_d}
        self.factories = {name: from_config(name, f) for name, f in factories.items()}  # checkpoints hold {class_path, init_args}
        betas_g, betas_d = pair(betas_g, "betas_g", minimum=0, below=1, fix=BETAS), pair(betas_d, "betas_d", minimum=0, below=1, fix=BETAS)
        check_finite("", n_dis=n_dis, max_iterations=max_iterations, lr_g=lr_g, lr_d=lr_d, ema_decay=ema_decay)  # the CLI's sentence
        self.n_dis = number(n_dis, "n_dis", integer=True, minimum=1)
        self.max_iterations = number(max_iterations, "max_iterations", integer=True, minimum=1)
        number(lr_g, "lr_g", above=0, fix="use a positive learning rate")
        number(lr_d, "lr_d", above=0, fix="use a positive learning rate")
        one_of(lr_decay, "lr_decay", LR_DECAYS)
        require(isinstance(compile, (bool, dict)), "compile", compile, "use true, false or a dict of torch.compile options")
        optional_number(ema_decay, "ema_decay", above=0, below=1, fix="use a decay in (0, 1), e.g. 0.999, or null to disable")
        if isinstance(perturbation, dict):  # a checkpoint's hparams hold the parts as their configs
            perturbation = PerturbationStrategy.from_config(perturbation)
        regularizers = [Regularizer.from_config(r) if isinstance(r, dict) else r for r in regularizers or []]
        augmentations = [Augmentation.from_config(a) if isinstance(a, dict) else a for a in augmentations or []]
        self.objective = GANObjective(loss, perturbation, perturb_in, regularizers, augmentations, joint_forward)
        check_nets(generator, discriminator)
        # plain data in hparams, so checkpoints load with torch.load(weights_only=True)
        self.hparams["perturbation"] = None if perturbation is None else perturbation.config()
        self.hparams["regularizers"] = [r.config() for r in regularizers]
        self.hparams["augmentations"] = [a.config() for a in augmentations]
        self.hparams.update({name: callable_config(f) for name, f in self.factories.items()})
        self.automatic_optimization = False
        self.generator, self.discriminator = generator, discriminator
        self.regularizers, self.augmentations = self.objective.regularizers, self.objective.augmentations  # state in checkpoints
        self.labelled_discriminator = is_conditional(generator) and takes_labels(discriminator)
        self.generator_iterations, self.discriminator_steps = 0, 0
        self.attack_size: dict[str, float] = {}  # a module's own attack's |delta| on the last logged D step (ASGAN, RobGAN)
        self.generator_ema = None if ema_decay is None else ema_copy(generator, ema_decay)
        self.compile_options = (compile if isinstance(compile, dict) else {}) if compile else None
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)  # 4-d weights only; checkpoints load into this layout

    loss = property(lambda self: self.objective.loss)
    perturbation = property(lambda self: self.objective.perturbation)
    perturb_discriminator = property(lambda self: self.objective.perturbs_discriminator)
    perturb_generator = property(lambda self: self.objective.perturbs_generator)

    @property
    def sampling_generator(self) -> nn.Module:
        """The generator used for evaluation: the EMA copy when ``ema_decay`` is set, else G."""
        return self.generator if self.generator_ema is None else self.generator_ema.module

    # ----------------------------------------------------------------- training
    def training_step(self, batch: Any, batch_idx: int) -> None:
        """Algorithm 1: a D update on this batch; after every ``n_dis``-th, a G update."""
        real, labels = self.unpack_batch(batch)
        opt_d, opt_g = self.optimizers()
        if self.perturbation is not None:  # |delta| in grey levels, recorded only on the D steps that are logged
            self.perturbation.record = self._logs_this_step(self.discriminator_steps + 1)
        with self.toggled_optimizer(opt_d):
            d_loss, d_real, d_fake = self.discriminator_step(real, labels)
            self.optimize(opt_d, d_loss)
        self.after_discriminator_update()
        self.objective.observe(d_real)  # adaptive augmentation (ADA): once per D step
        if self.perturbation is not None:
            self.perturbation.record = False
        self.discriminator_steps += 1
        g_loss = None
        if self.discriminator_steps % self.n_dis == 0:
            with self.toggled_optimizer(opt_g):
                g_loss = self.generator_step(real, labels)
                self.optimize(opt_g, g_loss)
            self.end_generator_iteration()
        if self._logs_this_step():  # build the logged tensors only on the steps that are written
            self.log_step(d_loss, d_real, d_fake, g_loss)

    def discriminator_step(self, real: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Algorithm 1, lines 3-10: D's loss on the (perturbed) reals and fresh fakes ``G(z, labels)``, and
        D's logits on both. Override it (calling it or :attr:`objective`) for a variant's D loss."""
        with torch.no_grad():
            fake = self.generate(len(real), labels)  # x_f = G(z), no gradient to G
        return self.objective.discriminator_loss(self.discriminator, real, fake, self.discriminator_labels(labels),
                                                 self.discriminator_steps, self.perturb)

    def generator_step(self, real: Tensor, labels: Tensor | None = None) -> Tensor:
        """Algorithm 1, lines 12-13 (``real`` is only the attack's reference in the Table IV ablation)."""
        return self.generator_loss(self.generate(len(real), labels), real, labels)

    def generator_loss(self, fake: Tensor, real: Tensor, labels: Tensor | None = None) -> Tensor:
        """The objective's G loss on ``fake = G(z)`` (a G-step override adds its terms to it)."""
        return self.objective.generator_loss(self.discriminator, fake, real, self.discriminator_labels(labels), self.perturb)

    def discriminator_labels(self, labels: Tensor | None) -> Tensor | None:
        """The labels D is called with: the batch's for a class-conditional D, else none."""
        return labels if self.labelled_discriminator else None

    def perturb(self, discriminator: nn.Module, real: Tensor, fake: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The objective's perturbation (override to change how the attack runs). Under data parallelism
        each rank attacks its own rows; the strategies take their batch statistics (DAT's target means and
        1/N step) over the global batch, so each rank's rows get the one-device perturbation of the global
        batch (a D with BatchNorm needs ``sync_batchnorm``, which ``gan_ddp`` checks)."""
        return self.objective.perturb(discriminator, real, fake, labels)

    def optimize(self, optimizer: Any, loss: Tensor) -> None:
        """zero_grad, backward (through Lightning: precision, strategy), step."""
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()

    def after_discriminator_update(self) -> None:
        """Called after every D optimizer step (WGAN clips D's weights here)."""

    def end_generator_iteration(self) -> None:
        """After G's update: the EMA of G, the counter, the LR schedules, the stop at ``max_iterations``."""
        if self.generator_ema is not None:
            self.generator_ema.update_parameters(self.generator)
        self.generator_iterations += 1
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers] if schedulers else []:
            scheduler.step()
        if self.generator_iterations >= self.max_iterations:
            self.trainer.should_stop = True

    def log_step(self, d_loss: Tensor, d_real: Tensor, d_fake: Tensor, g_loss: Tensor | None) -> None:
        """The losses, D's mean logits and what the objective's parts report (ADA's p, LeCam's anchors,
        the perturbation's size)."""
        logs = {"loss/d": d_loss.detach(), "d/real": d_real.detach().mean(), "d/fake": d_fake.detach().mean()}
        if g_loss is not None:
            logs["loss/g"] = g_loss.detach()
        logs.update({k: v.detach() if isinstance(v, Tensor) else float(v) for k, v in {**self.objective.log_values(), **self.attack_size}.items()})
        # data parallel: the global batch's values (mean over ranks; max for maxima), only on logged steps
        maxima = {k: logs.pop(k) for k in [k for k in logs if k.endswith("max_grey")]}
        self.log_dict(logs, on_step=True, on_epoch=False, sync_dist=True)
        if maxima:
            self.log_dict(maxima, on_step=True, on_epoch=False, sync_dist=True, reduce_fx="max")
        self.log("generator_iterations", float(self.generator_iterations), on_step=True, on_epoch=False, prog_bar=True)

    def _logs_this_step(self, step: int | None = None) -> bool:
        # self.log costs more than a toy-2D iteration: log only where Lightning writes step logs (every
        # log_every_n_steps-th batch, and when stopping); a batch is a D step, so discriminator_steps counts them
        try:
            every, stopping = self.trainer.log_every_n_steps, self.trainer.should_stop
        except RuntimeError:  # not attached to a Trainer: a step called by hand logs nothing
            return False
        return every > 0 and ((self.discriminator_steps if step is None else step) % every == 0 or stopping)

    def unpack_batch(self, batch: Any) -> tuple[Tensor, Tensor | None]:
        """``(real, labels)``: the images (in the training layout) and, for a class-conditional G, the
        batch's labels (checked); ``None`` otherwise (labels of ``(x, y)`` batches are then ignored)."""
        real = batch[0] if isinstance(batch, (tuple, list)) else batch
        conditional = is_conditional(self.generator)
        return self.in_training_layout(real), batch_labels(batch, self.generator.num_classes, type(self).__name__).to(self.device) if conditional else None

    def in_training_layout(self, images: Tensor) -> Tensor:
        """``images`` in the memory format the nets train in: ``channels_last`` for image batches when
        that option is on (collation stacks batches into NCHW), otherwise unchanged."""
        if self.channels_last and images.dim() == 4:
            return images.contiguous(memory_format=torch.channels_last)
        return images

    # ------------------------------------------------------------------ hooks
    def configure_model(self) -> None:
        """Compile G and D in place when ``compile`` is set (Lightning calls this before training)."""
        if self.compile_options is not None:
            compile_nets(self.generator, self.discriminator, self.compile_options)

    def setup(self, stage: str) -> None:
        # the datamodule is set up before the model: compare its image shape with what G makes
        check_data_shape(type(self).__name__, self.generator, getattr(self.trainer, "datamodule", None))

    def on_train_start(self) -> None:
        # after the checkpoint's optimizers and schedules were restored: a resumed run's LR follows its
        # own horizon from the resumed iteration on
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers] if schedulers else []:
            reaim_linear_decay(scheduler)
        # after ResumeState restored the (rank 0) RNG state: each rank draws its own latents and noise
        if is_distributed():
            seed_per_rank()

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> int | None:
        # a run resumed from a finished checkpoint has nothing left to do
        if self.generator_iterations >= self.max_iterations:
            self.trainer.should_stop = True
            return -1
        return None

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Nothing per batch (``datgan validate``/``test``): the metric callbacks score G at the loop's end."""

    test_step = validation_step

    def configure_optimizers(self):
        """D's then G's optimizer (``optimizer_*``, else Adam with ``lr_*``/``betas_*``) and their LR
        schedules (``scheduler_*``, else a linear decay to ``max_iterations`` when ``lr_decay="linear"``)."""
        pairs = [optimizer_and_schedule(self, net, params) for net, params in (("d", self.discriminator_parameters()), ("g", self.generator.parameters()))]
        optimizers, schedulers = [o for o, _ in pairs], [s for _, s in pairs if s is not None]
        return (optimizers, schedulers) if schedulers else optimizers

    def discriminator_parameters(self) -> list[nn.Parameter]:
        """What D's optimizer updates: D and any heads a subclass attaches to it."""
        return list(self.discriminator.parameters())

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint.update(generator_iterations=self.generator_iterations, discriminator_steps=self.discriminator_steps)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.generator_iterations = checkpoint.get("generator_iterations", 0)
        self.discriminator_steps = checkpoint.get("discriminator_steps", 0)

