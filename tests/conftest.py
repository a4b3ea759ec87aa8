from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


class LinearD(torch.nn.Module):
    """D(x) = w . x + b: its input gradient is w everywhere, so perturbations are computable by hand."""

    def __init__(self, w, b=0.0):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(w, dtype=torch.float64))
        self.b = torch.nn.Parameter(torch.tensor(b, dtype=torch.float64))

    def forward(self, x):
        return (x @ self.w + self.b).unsqueeze(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def fast_trainer(tmp_path, **kwargs):
    """A CPU Trainer without loggers, checkpoints, progress bars or summaries (tests' default)."""
    import lightning as L

    defaults = dict(
        accelerator="cpu", max_epochs=-1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    return L.Trainer(**{**defaults, **kwargs})


def image_loader(n=8, channels=3, size=32, batch_size=4):
    """Random images in [-1, 1] with labels, as ``(x, y)`` batches."""
    from torch.utils.data import DataLoader, TensorDataset

    return DataLoader(TensorDataset(torch.rand(n, channels, size, size) * 2 - 1, torch.zeros(n)), batch_size=batch_size)
