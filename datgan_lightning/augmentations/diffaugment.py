"""DiffAugment (Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS 2020).

D is trained on ``T(x)`` for reals and fakes alike, in the D step and in the G step, with ``T``
differentiable so that G's gradient flows through it: ``L_D = f(D(T(x_r))) + h(D(T(G(z))))``,
``L_G = g(D(T(G(z))))``. In this library that is ``GAN(augmentations=[DiffAugment()])``, which trains
``D∘T`` (:class:`~datgan_lightning.augmentations.base.AugmentedDiscriminator`).

The policy's ops, each with its own random parameters per sample (the authors' PyTorch code,
``mit-han-lab/data-efficient-gans`` ``DiffAugment_pytorch.py``), on images ``(N, C, H, W)``:

* ``color``: brightness ``x + (u − 0.5)``, then saturation ``(x − mean_c x)·2u + mean_c x``
  (mean over channels, per pixel), then contrast ``(x − mean x)·(u + 0.5) + mean x`` (mean over
  the whole image), each ``u ~ U(0, 1)`` drawn per sample;
* ``translation``: an integer shift ``(t_h, t_w)``, each uniform in ``[−s, s]`` with
  ``s = int(ratio·size + 0.5)`` (``ratio = 1/8``: ±4 pixels at 32×32), out-of-image pixels filled
  with 0: ``T(x)[i, j] = x[i + t_h, j + t_w]`` or 0;
* ``cutout``: a square of side ``int(ratio·size + 0.5)`` (``ratio = 1/2``) centred at a uniform
  random pixel (clipped at the border) set to 0;
* ``flip`` (not a DiffAugment policy; CR's flip, ADA's xflip): a horizontal flip with probability 1/2.

The default policy ``"color,translation,cutout"`` is the paper's for CIFAR-10 with 100% data and the
one it reports most; their limited-data BigGAN scripts use ``"translation,cutout"``.

**Data range.** The authors' code works on images in [-1, 1] (BigGAN-PyTorch and StyleGAN2
normalise so), as here: the zero fill of translation and cutout is then mid-grey, and brightness
shifts by up to ±0.5, a quarter of the range. Outputs are not clamped (neither are the
authors'): color can leave [-1, 1]; translation and cutout keep it.

``probability`` ``p`` (default 1: DiffAugment always applies its policy) applies each op to each
sample independently with probability ``p`` (ADA's scheme; :class:`AdaptiveAugment` adapts it),
the unchosen samples left bit-for-bit unchanged; ``p = 0`` is the identity.

Random numbers come from torch's global generator of the images' device, drawn anew on every call,
so ``seed_everything`` (Lightning) makes a run reproducible. The output keeps the input's memory
format (channels_last in, channels_last out) and dtype.

Example:
    >>> import torch
    >>> from datgan_lightning.augmentations import DiffAugment
    >>> x = torch.rand(4, 3, 32, 32) * 2 - 1
    >>> y = DiffAugment()(x)
    >>> y.shape, y.dtype
    (torch.Size([4, 3, 32, 32]), torch.float32)
    >>> torch.equal(DiffAugment(probability=0.0)(x), x)
    True
"""

from __future__ import annotations

import torch
from torch import Tensor

from datgan_lightning.augmentations.base import Augmentation
from datgan_lightning.checks import number, require

POLICIES = {
    "color": ("brightness", "saturation", "contrast"),
    "translation": ("translation",),
    "cutout": ("cutout",),
    "flip": ("flip",),
}


def _uniform(x: Tensor) -> Tensor:
    return torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device)


def brightness(x: Tensor) -> Tensor:
    """``x + (u − 0.5)``, ``u ~ U(0, 1)`` per sample."""
    return x + (_uniform(x) - 0.5)


def saturation(x: Tensor) -> Tensor:
    """``(x − m)·2u + m`` with ``m`` the per-pixel channel mean, ``u ~ U(0, 1)`` per sample."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform(x) * 2) + mean


def contrast(x: Tensor) -> Tensor:
    """``(x − m)·(u + 0.5) + m`` with ``m`` the per-sample mean, ``u ~ U(0, 1)`` per sample."""
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_uniform(x) + 0.5) + mean


def translate(x: Tensor, shift_h: Tensor, shift_w: Tensor) -> Tensor:
    """``T(x)[n, :, i, j] = x[n, :, i + shift_h[n], j + shift_w[n]]``, 0 outside the image (differentiable)."""
    n, _, h, w = x.shape
    rows = torch.arange(h, device=x.device) + shift_h.view(n, 1)  # (N, H)
    cols = torch.arange(w, device=x.device) + shift_w.view(n, 1)  # (N, W)
    inside = ((rows >= 0) & (rows < h)).view(n, h, 1) & ((cols >= 0) & (cols < w)).view(n, 1, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    picked = x[batch, :, rows.clamp(0, h - 1).view(n, h, 1), cols.clamp(0, w - 1).view(n, 1, w)]  # (N, H, W, C)
    return torch.where(inside.unsqueeze(-1), picked, picked.new_zeros(())).permute(0, 3, 1, 2)


def translation(x: Tensor, ratio: float) -> Tensor:
    """A uniform integer shift in ``[−s, s]`` per axis and sample, ``s = int(ratio·size + 0.5)``; zero fill."""
    s_h, s_w = int(x.size(2) * ratio + 0.5), int(x.size(3) * ratio + 0.5)
    shift_h = torch.randint(-s_h, s_h + 1, size=(x.size(0),), device=x.device)
    shift_w = torch.randint(-s_w, s_w + 1, size=(x.size(0),), device=x.device)
    return translate(x, shift_h, shift_w)


def cut(x: Tensor, top: Tensor, left: Tensor, size: tuple[int, int]) -> Tensor:
    """``x`` with the rectangle ``[top, top + size_h) × [left, left + size_w)`` (clipped to the image) set to 0."""
    n, _, h, w = x.shape
    rows = torch.arange(h, device=x.device) - top.view(n, 1)
    cols = torch.arange(w, device=x.device) - left.view(n, 1)
    hole = ((rows >= 0) & (rows < size[0])).view(n, h, 1) & ((cols >= 0) & (cols < size[1])).view(n, 1, w)
    return x * (~hole).to(x.dtype).unsqueeze(1)


def cutout(x: Tensor, ratio: float) -> Tensor:
    """A square of side ``int(ratio·size + 0.5)`` centred at a uniform pixel per sample, set to 0."""
    size = int(x.size(2) * ratio + 0.5), int(x.size(3) * ratio + 0.5)
    center_h = torch.randint(0, x.size(2) + (1 - size[0] % 2), size=(x.size(0),), device=x.device)
    center_w = torch.randint(0, x.size(3) + (1 - size[1] % 2), size=(x.size(0),), device=x.device)
    return cut(x, center_h - size[0] // 2, center_w - size[1] // 2, size)


def flip(x: Tensor) -> Tensor:
    """A horizontal flip of each sample with probability 1/2."""
    chosen = torch.rand(x.size(0), device=x.device) < 0.5
    return torch.where(chosen.view(-1, 1, 1, 1), x.flip(3), x)


class DiffAugment(Augmentation):
    """DiffAugment's differentiable ops, per sample, each applied with probability ``probability``.

    Args:
        policy: comma-separated op groups in application order, from ``color``, ``translation``,
            ``cutout`` (DiffAugment's) and ``flip``. Default ``"color,translation,cutout"``: the paper's.
        probability: ``p`` in [0, 1], the chance each op is applied to each sample; 1 (default) is
            DiffAugment, 0 the identity.
        translation: the largest shift as a fraction of the image side (DiffAugment: 1/8).
        cutout: the side of the cut square as a fraction of the image side (DiffAugment: 1/2).
    """

    def __init__(
        self, policy: str = "color,translation,cutout", probability: float = 1.0, translation: float = 0.125, cutout: float = 0.5
    ) -> None:
        super().__init__()
        name = type(self).__name__
        groups = [g.strip() for g in policy.split(",")] if isinstance(policy, str) else []
        fix = f"use a comma-separated list of {tuple(POLICIES)}, e.g. 'color,translation,cutout'"
        require(bool(groups) and all(g in POLICIES for g in groups), f"{name}: policy", policy, fix)
        fraction = "use a fraction of the image side in [0, 1]"
        self.probability = float(number(probability, f"{name}: probability", minimum=0, maximum=1, fix="use a number in [0, 1] (1 always augments, 0 never)"))
        self.translation = float(number(translation, f"{name}: translation", minimum=0, maximum=1, fix=fraction))
        self.cutout = float(number(cutout, f"{name}: cutout", minimum=0, maximum=1, fix=fraction))
        self.policy = ",".join(groups)
        self.ops = [op for g in groups for op in POLICIES[g]]

    def current_probability(self) -> float:
        """The probability ``p`` the next call applies each op with."""
        return self.probability

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 4:
            raise ValueError(f"{type(self).__name__} augments image batches (N, C, H, W); got shape {tuple(images.shape)}.")
        p = self.current_probability()
        if p <= 0:
            return images
        channels_last = images.is_contiguous(memory_format=torch.channels_last) and not images.is_contiguous()
        x = images
        for op in self.ops:
            y = self.apply(op, x)
            if p < 1:  # each sample independently: unchosen samples stay exactly x
                chosen = torch.rand(x.size(0), device=x.device) < p
                y = torch.where(chosen.view(-1, 1, 1, 1), y, x)
            x = y
        return x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)

    def apply(self, op: str, x: Tensor) -> Tensor:
        """One op on every sample of ``x`` (fresh random parameters per sample)."""
        if op == "translation":
            return translation(x, self.translation)
        if op == "cutout":
            return cutout(x, self.cutout)
        return {"brightness": brightness, "saturation": saturation, "contrast": contrast, "flip": flip}[op](x)
