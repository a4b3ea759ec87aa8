"""Mode-coverage scores for samples of a Gaussian mixture (plain PyTorch, no training loop).

Every sample is assigned to its nearest mode. A sample is *high quality* (HQ) when it
lies within ``radius`` standard deviations (Euclidean distance) of that mode. A mode is
*covered* when at least ``min_share`` of all samples are HQ samples of it. The KL
divergence compares the true mode weights ``p`` with the histogram ``q`` of HQ samples
over modes: ``KL(p || q)``, with one pseudo-count per mode in ``q`` so that a dropped
mode gives a large but finite value.

Example:
    >>> import torch
    >>> means = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    >>> weights = torch.tensor([0.5, 0.5])
    >>> samples = torch.tensor([[0.0, 0.01], [0.02, 0.0], [5.0, 5.0], [0.01, 0.0]])
    >>> scores = mixture_scores(samples, means, weights, std=0.05, min_share=0.25)
    >>> scores["modes"], scores["hq"]
    (1, 0.75)
"""

from __future__ import annotations

import torch
from torch import Tensor


def mixture_scores(
    samples: Tensor,
    means: Tensor,
    weights: Tensor,
    std: float,
    min_share: float = 0.005,
    radius: float = 3.0,
) -> dict[str, float | int | list[int]]:
    """Modes covered, share of HQ samples and ``KL(true weights || HQ mode histogram)``."""
    if not 0 <= min_share <= 1:
        raise ValueError(f"min_share={min_share} is invalid; use a share in [0, 1].")
    samples = samples.detach().float().cpu()
    means, weights = means.float().cpu(), weights.float().cpu()
    distances = torch.cdist(samples, means)
    nearest_distance, nearest = distances.min(dim=1)
    hq = nearest_distance <= radius * std
    counts = torch.bincount(nearest[hq], minlength=len(means))
    covered = int((counts >= min_share * len(samples)).sum())
    q = (counts + 1.0) / (counts.sum() + len(means))
    p = weights / weights.sum()
    kl = float((p * (p / q).log()).sum())
    return {"modes": covered, "hq": float(hq.float().mean()), "kl": kl, "counts": counts.tolist()}
