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
