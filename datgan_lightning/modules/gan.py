"""The GAN LightningModule: Algorithm 1 of the DAT paper with a pluggable perturbation strategy."""

from __future__ import annotations

import copy
import functools
import importlib
import warnings
from typing import Any, Literal

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from datgan_lightning.adversarial.base import PerturbationStrategy
from datgan_lightning.augmentations.base import Augmentation, AugmentedDiscriminator
from datgan_lightning.distributed import gather_batch, is_distributed, own_rows, seed_per_rank
from datgan_lightning.errors import ConfigurationError, check_finite
from datgan_lightning.losses import get_loss
from datgan_lightning.nets.base import check_labels, is_conditional
from datgan_lightning.regularizers.base import Regularizer
from datgan_lightning.utils import discriminate, full_precision, has_spectral_norm, logits

PERTURB_IN = ("discriminator", "generator", "all")
LR_DECAYS = ("linear", "none")


class LinearDecay:
    """LR factor ``1 - iteration / total`` (0 at and after ``total``); picklable, unlike a lambda."""

    def __init__(self, total: int) -> None:
        self.total = total

    def __call__(self, iteration: int) -> float:
        return max(0.0, 1.0 - iteration / self.total)


class GAN(LightningModule):
    """An unconditional GAN trained with manual optimization, one training batch per D step.

    One *generator iteration* is ``n_dis`` discriminator steps, each on a fresh real batch,
    followed by one generator step (Algorithm 1; Mimicry's loop). Training length, LR decay
    and the ``generator_iterations`` counter (checkpointed) are in these units, not in
    ``trainer.global_step``, which counts every optimizer step.

    Args:
        generator: a module mapping ``z`` of size ``generator.latent_dim`` to samples.
        discriminator: a module returning one logit per sample.
        loss: GAN objective, one of ``ns``, ``minimax``, ``hinge``, ``wasserstein``, ``lsgan``.
        perturbation: a strategy such as :class:`~datgan_lightning.adversarial.DAT` (or its
            ``config()`` dict, as checkpoints store it); ``None`` trains a plain GAN. If the strategy
            has no loss, it uses this module's.
        perturb_in: where the perturbation applies: ``"discriminator"`` (DAT), ``"generator"``
            or ``"all"`` (the paper's Table IV ablation; both break training).
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
        joint_forward: run D once on real+fake; ``None`` does so unless D has BatchNorm.
        regularizers: terms added to D's loss, any number in any order, e.g. ``[R1(weight=5.0)]`` or
            ``[GP(), AR()]`` (:mod:`datgan_lightning.regularizers`); each sees the batches D's GAN loss saw
            (perturbed when a perturbation is set) and D's logits on them. A regularizer with ``every=k``
            is applied on every k-th D step, multiplied by k (lazy regularization). Those without a loss
            get this module's.
        augmentations: differentiable transforms of every image D sees in its GAN loss, real and fake,
            in both steps (:mod:`datgan_lightning.augmentations`, e.g. DiffAugment): training uses
            ``D∘T``, and so do the perturbation and the regularizers.
        ema_decay: keep an exponential moving average of G's weights (and buffers) with this decay,
            e.g. 0.999, updated after every generator step; :meth:`sample` then uses it. ``None``: off.
        channels_last: keep the nets' conv weights and the training images in ``channels_last``
            memory format: the same math, faster convolutions on most hardware (SNGAN-32 on a 2-core
            CPU: see ``benchmarks/RESULTS.md``); results differ from ``False`` by float rounding only.
        compile: ``torch.compile`` G and D in place when training starts (``nn.Module.compile``, state dict
            keys unchanged); ``True`` for the defaults or a dict of its options, e.g. ``{mode: max-autotune}``.
            A D with spectral norm stays eager, with a warning: compiled, it cannot backpropagate through two
            training-mode forwards before one backward (its power iteration bumps a buffer the first graph
            saved), which the penalties, DATT, AS-GAN and SSGAN/InfoMaxGAN's auxiliary losses do.

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
        factories = {name: _from_config(name, f) for name, f in factories.items()}  # checkpoints hold {class_path, init_args}
        if isinstance(perturbation, dict):  # a checkpoint's hparams hold the strategy as its config
            perturbation = PerturbationStrategy.from_config(perturbation)
        regularizers = [Regularizer.from_config(r) if isinstance(r, dict) else r for r in regularizers or []]
        augmentations = [Augmentation.from_config(a) if isinstance(a, dict) else a for a in augmentations or []]
        check_finite("", n_dis=n_dis, max_iterations=max_iterations, lr_g=lr_g, lr_d=lr_d, ema_decay=ema_decay,
                     betas_g_0=betas_g[0], betas_g_1=betas_g[1], betas_d_0=betas_d[0], betas_d_1=betas_d[1])  # the CLI's sentence
        _check(n_dis >= 1 and int(n_dis) == n_dis, "n_dis", n_dis, "use an integer >= 1")
        _check(max_iterations >= 1 and int(max_iterations) == max_iterations, "max_iterations", max_iterations, "use an integer >= 1")
        _check(lr_g > 0, "lr_g", lr_g, "use a positive learning rate")
        _check(lr_d > 0, "lr_d", lr_d, "use a positive learning rate")
        for name, betas in (("betas_g", betas_g), ("betas_d", betas_d)):
            _check(len(betas) == 2 and all(0 <= b < 1 for b in betas), name, tuple(betas), "use two numbers in [0, 1), e.g. [0.5, 0.999]")
        _check(lr_decay in LR_DECAYS, "lr_decay", lr_decay, f"use one of {LR_DECAYS}")
        _check(perturb_in in PERTURB_IN, "perturb_in", perturb_in, f"use one of {PERTURB_IN}")
        _check(
            perturbation is None or isinstance(perturbation, PerturbationStrategy),
            "perturbation",
            perturbation,
            "use a strategy from datgan_lightning.adversarial (DAT, FGSM, PGD) or None",
        )
        for regularizer in regularizers:
            _check(isinstance(regularizer, Regularizer), "regularizers", regularizer, "list regularizers from datgan_lightning.regularizers (GP, R1, AR, ...)")
        for augmentation in augmentations:
            _check(isinstance(augmentation, Augmentation), "augmentations", augmentation, "list augmentations from datgan_lightning.augmentations (DiffAugment, ...)")
        _check(
            perturbation is None or perturbation.keeps_batch_size or perturb_in == "discriminator",
            "perturb_in", perturb_in, f"{type(perturbation).__name__} returns clean and perturbed samples together, which only the D step can use; use perturb_in='discriminator'",
        )  # fmt: skip
        _check(isinstance(compile, (bool, dict)), "compile", compile, "use true, false or a dict of torch.compile options")
        _check(ema_decay is None or 0 < ema_decay < 1, "ema_decay", ema_decay, "use a decay in (0, 1), e.g. 0.999, or null to disable")
        _check(hasattr(generator, "latent_dim"), "generator", type(generator).__name__, "give the generator a `latent_dim` attribute")
        # plain data in hparams, so checkpoints load with torch.load(weights_only=True)
        self.hparams["perturbation"] = None if perturbation is None else perturbation.config()
        self.hparams["regularizers"] = [r.config() for r in regularizers]
        self.hparams["augmentations"] = [a.config() for a in augmentations]
        self.hparams.update({name: _callable_config(f) for name, f in factories.items()})
        self.factories = factories
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self.loss = get_loss(loss)
        if perturbation is not None and perturbation.loss is None:
            perturbation = copy.copy(perturbation)  # do not mutate the caller's object
            perturbation.loss = self.loss
        self.perturbation = perturbation
        self.regularizers = nn.ModuleList(_with_loss(r, self.loss) for r in regularizers)  # state is checkpointed
        self.augmentations = nn.ModuleList(augmentations)
        self.perturb_discriminator = perturbation is not None and perturb_in in ("discriminator", "all")
        self.perturb_generator = perturbation is not None and perturb_in in ("generator", "all")
        self.n_dis = int(n_dis)
        self.max_iterations = int(max_iterations)
        self.joint_forward = joint_forward
        self.generator_iterations = 0
        self.discriminator_steps = 0
        self.generator_ema = None if ema_decay is None else _ema_copy(generator, ema_decay)
        self.compile_options = (compile if isinstance(compile, dict) else {}) if compile else None
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)  # 4-d weights only; checkpoints load into this layout

    # ----------------------------------------------------------------- sampling
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
        """The generator used for evaluation: the EMA copy when ``ema_decay`` is set, else G."""
        return self.generator if self.generator_ema is None else self.generator_ema.module

    @torch.no_grad()
    def sample(self, n: int | None = None, z: Tensor | None = None, labels: Tensor | None = None) -> Tensor:
        """``n`` samples (or ``G(z)`` for given latents) from :attr:`sampling_generator` in eval mode
        (BatchNorm running statistics), no gradients; a class-conditional G samples ``labels`` (one
        class index per sample), or classes from the uniform prior when they are not given."""
        if (n is None) == (z is None):
            raise ValueError("sample: pass exactly one of n (a number of samples) or z (a latent batch).")
        if n is not None and (isinstance(n, bool) or int(n) != n or n < 1):
            raise ValueError(f"sample: n={n!r} is invalid; ask for at least one sample (an integer >= 1).")
        inputs = self.generator_inputs(n or 0, labels, z)
        generator = self.sampling_generator
        was_training = generator.training
        generator.eval()
        try:
            return generator(*inputs)
        finally:
            generator.train(was_training)

    # ----------------------------------------------------------------- training
    def real_samples(self, batch: Any) -> Tensor:
        """The real samples of a batch: the batch itself, or its first item for ``(x, y)`` batches."""
        return batch[0] if isinstance(batch, (tuple, list)) else batch

    def real_labels(self, batch: Any) -> Tensor:
        """The class labels of an ``(x, y)`` batch, checked against G's classes (conditional GANs)."""
        labels = batch[1] if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
        if labels is None or (labels < 0).any():
            raise ValueError(
                f"{type(self).__name__} is class-conditional but its data has no labels; use a labelled dataset "
                "(CIFAR-10, an image folder with class subfolders, an .npz with train_y)."
            )
        return check_labels(labels, self.generator.num_classes)

    def in_training_layout(self, images: Tensor) -> Tensor:
        """``images`` in the memory format the nets train in: ``channels_last`` for image batches when
        that option is on (collation stacks batches into NCHW), otherwise unchanged."""
        if self.channels_last and images.dim() == 4:
            return images.contiguous(memory_format=torch.channels_last)
        return images

    def training_step(self, batch: Any, batch_idx: int) -> None:
        real = self.in_training_layout(self.real_samples(batch))
        opt_d, opt_g = self.optimizers()
        every = self.trainer.log_every_n_steps
        recording = self.perturb_discriminator and every > 0 and (self.discriminator_steps + 1) % every == 0
        if self.perturbation is not None:
            self.perturbation.record = recording  # the D step's perturbation size, only on logged steps
        d_loss, d_real, d_fake = self.discriminator_update(real, opt_d)
        if self.perturbation is not None:
            self.perturbation.record = False
        self.discriminator_steps += 1
        g_loss = None
        if self.discriminator_steps % self.n_dis == 0:
            with self.toggled_optimizer(opt_g):
                g_loss = self.generator_step(real)
                self.optimizer_step(opt_g, g_loss)
            if self.generator_ema is not None:
                self.generator_ema.update_parameters(self.generator)
            self.generator_iterations += 1
            self.step_lr_schedules()
            if self.generator_iterations >= self.max_iterations:
                self.trainer.should_stop = True
        if self._logs_this_step():  # build the logged tensors only on the steps that are written
            logs = {"loss/d": d_loss.detach(), "d/real": d_real.detach().mean(), "d/fake": d_fake.detach().mean()}
            if g_loss is not None:
                logs["loss/g"] = g_loss.detach()
            for name, part in [("augmentation", a) for a in self.augmentations] + [("regularizer", r) for r in self.regularizers]:
                logs.update({f"{name}/{k}": float(v) for k, v in getattr(part, "log_values", dict)().items()})  # ADA's p, LeCam's anchors
            if recording:  # |delta| in grey levels and the input-gradient norm behind it (adversarial/diagnostics.py)
                logs.update({f"perturbation/{k}": v for k, v in self.perturbation.log_values().items()})
            self.log_dict(logs, on_step=True, on_epoch=False)
            self.log("generator_iterations", float(self.generator_iterations), on_step=True, on_epoch=False, prog_bar=True)

    def _logs_this_step(self) -> bool:
        # self.log costs more than a whole toy-2D iteration; Lightning writes step logs only on every
        # log_every_n_steps-th training batch (and when stopping), so only log on those. One batch is
        # one D step, so discriminator_steps (checkpointed) counts the batches Lightning counts.
        every = self.trainer.log_every_n_steps
        return every > 0 and (self.discriminator_steps % every == 0 or self.trainer.should_stop)

    def discriminator_update(self, real: Tensor, optimizer: Any) -> tuple[Tensor, Tensor, Tensor]:
        """One D update of the ``n_dis`` per generator iteration: loss, backward, optimizer step.
        Returns what :meth:`discriminator_step` returns (AS-GAN makes two updates here)."""
        with self.toggled_optimizer(optimizer):
            d_loss, d_real, d_fake = self.discriminator_step(real)
            self.optimizer_step(optimizer, d_loss)
        self.after_discriminator_update()
        return d_loss, d_real, d_fake

    def optimizer_step(self, optimizer: Any, loss: Tensor) -> None:
        """zero_grad, backward (through Lightning: precision, strategy), step."""
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()

    def discriminator_step(self, real: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Algorithm 1, lines 3-10: returns D's loss and its logits on the (perturbed) batches."""
        with torch.no_grad():
            fake = self.generate(len(real))  # x_f = G(z), no gradient to G
        if self.perturb_discriminator:
            real, fake = self.perturb(real, fake)  # x' = x + delta
        return self.discriminator_loss(real, fake)

    def discriminator_loss(self, real: Tensor, fake: Tensor, observe: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """``-(g1(D(real)) + g2(D(fake)))`` batch-averaged plus the regularizers' terms, and D's logits on both.
        ``observe``: let adaptive augmentations (ADA) read D's real logits (once per D step: a second
        update on attacked reals, as AS-GAN's, passes False)."""
        critic = self.critic
        d_real, d_fake = discriminate(critic, real, fake, self.joint_forward)
        for augmentation in self.augmentations if observe else ():
            augmentation.observe(d_real.detach())  # adaptive augmentation (ADA) reads D's real logits
        loss = self.loss.discriminator_loss(d_real, d_fake)
        return loss + self.regularization(real, fake, d_real, d_fake), d_real, d_fake

    def regularization(self, real: Tensor, fake: Tensor, d_real: Tensor, d_fake: Tensor) -> Tensor | float:
        """The regularizers' terms due at this D step: a regularizer with ``every=k`` counts on steps
        0, k, 2k, ... and is multiplied by k there, so its average weight stays ``weight``."""
        total: Tensor | float = 0.0
        for regularizer in self.regularizers:
            if self.discriminator_steps % regularizer.every == 0:
                total = total + regularizer.every * regularizer(self.critic, real, fake, d_real, d_fake)
        return total

    def perturb(self, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        """The perturbation of ``(real, fake)`` through :attr:`critic`. Under data parallelism it runs on
        the global batch (every rank's samples, gathered; the same on all ranks) and each rank keeps its
        rows: the batch statistics of the attacks (DAT's target means and 1/N step, BatchNorm in D) are
        then those of one device on the global batch, not of each rank's share. It costs each rank the
        attack on the global batch (``benchmarks/scale.py``).

        The attack runs in full precision, outside autocast: under bf16 autocast ``mean D(real)`` and
        ``mean D(fake)`` round to the same value once D's logits are within ~1% of each other, DAT's
        objective ``|mean D(real) - mean D(fake)|`` then has gradient 0 and the perturbation silently
        vanishes (measured: all of it on a fresh SNGAN D); fp16 input gradients of 1/N-scaled objectives
        underflow, and GradScaler does not scale ``torch.autograd.grad``."""
        real, fake = full_precision(real), full_precision(fake)
        with torch.autocast(real.device.type, enabled=False):
            if not is_distributed():
                return self.perturbation(self.critic, real, fake)
            real_adv, fake_adv = self.perturbation(self.critic, gather_batch(real), gather_batch(fake))
        return own_rows(real_adv, len(real)), own_rows(fake_adv, len(fake))

    @property
    def critic(self) -> nn.Module:
        """What the GAN loss, the perturbation and the regularizers call as D: the discriminator, or
        ``D∘T`` with the augmentations (a view sharing D's weights, built per call, not checkpointed)."""
        if not self.augmentations:
            return self.discriminator
        return AugmentedDiscriminator(self.discriminator, self.augmentations)

    def after_discriminator_update(self) -> None:
        """Called after every D optimizer step (WGAN clips D's weights here)."""

    def generator_step(self, real: Tensor) -> Tensor:
        """Algorithm 1, lines 12-13 (``real`` is only used as the attack target in the Table IV ablation)."""
        return self.generator_loss(real, self.generate(len(real)))

    def generator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """G's loss on ``fake = G(z)``; subclasses add auxiliary terms on the same fakes."""
        if self.perturb_generator:
            _, fake_adv = self.perturb(real, fake)
            fake = fake + (fake_adv - fake.detach())  # shift by the detached delta, gradient still reaches G
        return self.loss.generator_loss(logits(self.critic, fake))

    def configure_model(self) -> None:
        """Compile G and D in place when ``compile`` is set (Lightning calls this before training)."""
        if self.compile_options is None:
            return
        self.generator.compile(**self.compile_options)
        if has_spectral_norm(self.discriminator):
            warnings.warn(
                "compile: the discriminator has spectral norm and stays eager (G is compiled): a compiled "
                "spectral-norm D cannot backpropagate through two training-mode forwards before one backward.",
                stacklevel=2,
            )
        else:
            self.discriminator.compile(**self.compile_options)

    def setup(self, stage: str) -> None:
        # the datamodule is set up before the model: compare its image shape with what G makes
        datamodule = getattr(self.trainer, "datamodule", None)
        data_shape = getattr(datamodule, "image_shape", None)
        model_shape = getattr(self.generator, "output_shape", None)
        if data_shape is not None and model_shape is not None and tuple(data_shape) != tuple(model_shape):
            raise ConfigurationError(
                f"{type(self).__name__} generates samples of shape {tuple(model_shape)} but "
                f"{type(datamodule).__name__} yields {tuple(data_shape)}; match the model's resolution/channels "
                "to the data or set the datamodule's image_size to the model's resolution."
            )

    def on_train_start(self) -> None:
        # after ResumeState restored the (rank 0) RNG state: each rank draws its own latents and noise
        if is_distributed():
            seed_per_rank()

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> int | None:
        # a run resumed from a finished checkpoint has nothing left to do
        if self.generator_iterations >= self.max_iterations:
            self.trainer.should_stop = True
            return -1
        return None

    # ---------------------------------------------------------------- evaluation
    # A GAN has no per-batch validation loss: `trainer.validate` / `trainer.test` (`datgan validate`,
    # `datgan test`) run these empty steps and the metric callbacks score G when the loop ends.
    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Nothing per batch; :class:`~datgan_lightning.callbacks.ImageQualityMetrics` and
        :class:`~datgan_lightning.callbacks.RobustnessMetrics` log their numbers at the loop's end."""

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """Nothing per batch, as :meth:`validation_step`."""

    # ---------------------------------------------------------------- optimizers
    def configure_optimizers(self):
        """D's then G's optimizer (``optimizer_*``, else Adam with ``lr_*``/``betas_*``) and their LR
        schedules (``scheduler_*``, else :class:`LinearDecay` when ``lr_decay="linear"``), in that order."""
        hp = self.hparams
        optimizers, schedulers = [], []
        for net, params in (("d", self.discriminator_parameters()), ("g", list(self.generator.parameters()))):
            make = self.factories[f"optimizer_{net}"] or functools.partial(torch.optim.Adam, lr=hp[f"lr_{net}"], betas=tuple(hp[f"betas_{net}"]))
            optimizer = make(params)
            optimizers.append(optimizer)
            schedule = self.factories[f"scheduler_{net}"]
            if schedule is None and hp.lr_decay == "linear":
                schedule = functools.partial(LambdaLR, lr_lambda=LinearDecay(self.max_iterations))
            if schedule is not None:
                schedulers.append(schedule(optimizer))
                _check(not isinstance(schedulers[-1], ReduceLROnPlateau), f"scheduler_{net}", "ReduceLROnPlateau",
                       "schedules here step once per generator iteration without a metric; use e.g. StepLR or ExponentialLR")  # fmt: skip
        return (optimizers, schedulers) if schedulers else optimizers

    def step_lr_schedules(self) -> None:
        """Step every LR schedule: called once per generator iteration."""
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers] if schedulers else []:
            scheduler.step()

    def discriminator_parameters(self) -> list[nn.Parameter]:
        """What D's optimizer updates: D and any heads a subclass attaches to it."""
        return list(self.discriminator.parameters())

    # ------------------------------------------------------------- checkpointing
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["generator_iterations"] = self.generator_iterations
        checkpoint["discriminator_steps"] = self.discriminator_steps

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.generator_iterations = checkpoint.get("generator_iterations", 0)
        self.discriminator_steps = checkpoint.get("discriminator_steps", 0)
        self._decay_to_this_runs_horizon(checkpoint)

    def _decay_to_this_runs_horizon(self, checkpoint: dict[str, Any]) -> None:
        """A resumed run decays its LR to 0 at *its own* ``max_iterations``: ``LambdaLR`` saves
        :class:`LinearDecay`'s ``total``, so without this a run extended from 3 to 6 iterations would
        keep the old horizon and train on at LR 0. From the resumed iteration ``t`` on the LR is
        ``base * (1 - t / max_iterations)``; the optimizers' current LR is set to it too, since they
        are restored with the LR of the old schedule. (Lightning restores the optimizers and
        schedulers from this same dict after this hook.)"""
        optimizers = checkpoint.get("optimizer_states") or []
        scheduled = [i for i, net in enumerate("dg") if self.factories[f"scheduler_{net}"] is not None or self.hparams.lr_decay == "linear"]
        decay = LinearDecay(self.max_iterations)
        for scheduler, index in zip(checkpoint.get("lr_schedulers") or [], scheduled if len(optimizers) == 2 else []):
            linear = [f for f in scheduler.get("lr_lambdas") or [] if isinstance(f, dict) and "total" in f]
            if not linear:
                continue  # a configured schedule (scheduler_d/g) keeps its state
            for lr_lambda in linear:
                lr_lambda["total"] = self.max_iterations
            optimizer = optimizers[index]
            lrs = [base * decay(scheduler["last_epoch"]) for base in scheduler["base_lrs"]]
            scheduler["_last_lr"] = lrs
            for group, lr in zip(optimizer["param_groups"], lrs):
                group["lr"] = lr


def _with_loss(regularizer: Regularizer, loss: Any) -> Regularizer:
    """``regularizer``, or a copy of it using the module's loss when it has none (the caller's object
    stays as it was)."""
    if regularizer.loss is not None:
        return regularizer
    regularizer = copy.deepcopy(regularizer)
    regularizer.loss = loss
    return regularizer


def _callable_config(factory: Any) -> dict[str, Any] | None:
    """``{"class_path", "init_args"}`` (plain data, as a config writes it) of an optimizer/scheduler
    factory: a class or a ``functools.partial`` of one (what LightningCLI passes). Other callables
    (lambdas) are not stored: pass them again when loading the checkpoint."""
    if factory is None or isinstance(factory, dict):
        return factory
    cls, init_args = (factory.func, dict(factory.keywords)) if isinstance(factory, functools.partial) and not factory.args else (factory, {})
    return {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": init_args} if isinstance(cls, type) else None


def _from_config(option: str, factory: Any) -> Any:
    """The factory a ``{"class_path", "init_args"}`` dict (a checkpoint's hparams) describes; callables as given."""
    if isinstance(factory, dict) and "class_path" in factory:
        module, _, name = factory["class_path"].rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            cls = None
        _check(cls is not None, option, factory["class_path"], "give an importable class path, e.g. torch.optim.SGD")
        return functools.partial(cls, **(factory.get("init_args") or {}))
    _check(factory is None or callable(factory), option, factory, "give a class path (e.g. torch.optim.SGD with its init_args) or null")
    return factory


def _ema_copy(generator: nn.Module, decay: float) -> AveragedModel:
    ema = AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    ema.requires_grad_(False)  # never trained, only averaged
    return ema


def _check(ok: bool, option: str, value: Any, fix: str) -> None:
    if not ok:
        raise ValueError(f"{option}={value!r} is invalid; {fix}.")
