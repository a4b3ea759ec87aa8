"""Matplotlib figures (Agg backend: works without a screen)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from torch import Tensor  # noqa: E402

from datgan_lightning.utils import write_atomically  # noqa: E402


def scatter_mixture(ax, samples: Tensor, means: Tensor, std: float, title: str = "", radius: float = 3.0) -> None:
    """Samples as dots over the true modes (crosses) and their ``radius``-std circles."""
    samples = samples.detach().cpu()
    ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, color="tab:blue", linewidths=0)
    for mx, my in means.tolist():
        ax.add_patch(plt.Circle((mx, my), radius * std, fill=False, color="tab:red", lw=0.5, alpha=0.5))
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
    fig, ax = plt.subplots(figsize=(3, 3), dpi=120)
    scatter_mixture(ax, samples, means, std, title)
    fig.tight_layout()
    write_atomically(Path(path), lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return Path(path)
