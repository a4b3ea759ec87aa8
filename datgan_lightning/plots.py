"""Matplotlib figures drawn through :class:`matplotlib.figure.Figure`: no pyplot state, no backend switch.

A ``Figure`` built directly is not registered with pyplot (nothing to close, no leak across a long run)
and renders with Agg when saved as PNG, whatever backend the user's session has chosen; importing this
module changes nothing in matplotlib.

Example:
    >>> import torch
    >>> fig, axes = figure(1, 2, figsize=(6, 3))
    >>> axes.shape, type(fig).__name__
    ((1, 2), 'Figure')
    >>> scatter_mixture(axes[0][0], torch.zeros(4, 2), torch.zeros(1, 2), std=0.1, title="one mode")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Circle
from torch import Tensor

from datgan_lightning.utils import write_atomically


def figure(rows: int = 1, columns: int = 1, **figure_options: Any) -> tuple[Figure, Any]:
    """A new ``Figure`` (``figsize``, ``dpi``, ...) and its ``rows × columns`` grid of axes, always 2-D
    (``axes[r][c]``); ``gridspec_kw`` goes to the grid."""
    gridspec_kw = figure_options.pop("gridspec_kw", None)
    fig = Figure(**figure_options)
    return fig, fig.subplots(rows, columns, squeeze=False, gridspec_kw=gridspec_kw)


def save_figure(fig: Figure, path: str | Path, **savefig_options: Any) -> Path:
    """Write ``fig`` to ``path`` as PNG, atomically (a reader never sees half a file), and return the path."""
    path = Path(path)
    write_atomically(path, lambda tmp: fig.savefig(tmp, format="png", **savefig_options))
    return path


def scatter_mixture(ax, samples: Tensor, means: Tensor, std: float, title: str = "", radius: float = 3.0) -> None:
    """Samples as dots over the true modes (crosses) and their ``radius``-std circles."""
    samples = samples.detach().cpu()
    ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, color="tab:blue", linewidths=0)
    for mx, my in means.tolist():
        ax.add_patch(Circle((mx, my), radius * std, fill=False, color="tab:red", lw=0.5, alpha=0.5))
    ax.scatter(means[:, 0], means[:, 1], marker="x", color="tab:red", s=20)
    ax.set_xlim(-2, 2)
    ax.set_ylim(-2, 2)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def save_mixture_scatter(path: str | Path, samples: Tensor, means: Tensor, std: float, title: str = "") -> Path:
    """Write one scatter plot to ``path`` (PNG) and return the path."""
    fig, axes = figure(figsize=(3, 3), dpi=120)
    scatter_mixture(axes[0][0], samples, means, std, title)
    fig.tight_layout()
    return save_figure(fig, path)
