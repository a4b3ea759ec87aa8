"""accuracy_under_attack: clean accuracy at eps 0, a linear classifier's known answer, mode restored."""

import pytest
import torch
from torch import nn

from datgan_lightning.metrics import accuracy_table, accuracy_under_attack


def _linear():
    C = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        C.weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))  # class 0 iff x0 > 0; margin 2*x0
    return C


def test_linear_classifier_flips_exactly_the_samples_within_eps():
    C = _linear()
    x = torch.tensor([[0.01, 0.0], [0.03, 0.0], [0.1, 0.0], [-0.5, 0.0]])
    y = torch.tensor([0, 0, 0, 0])  # the last one is misclassified already
    result = accuracy_under_attack(C, (x, y), eps_list=[0, 0.02, 0.05, 0.2], steps=20, data_range=None)
    # x0 moves by eps: a sample with 0 < x0 <= eps flips (the boundary x0 = 0 counts as class 0 by argmax ties)
    assert result == {0.0: 0.75, 0.02: 0.5, 0.05: 0.25, 0.2: 0.0}


def test_batches_and_mode_restored():
    C = nn.Sequential(nn.Flatten(), nn.Linear(12, 3), nn.Dropout(0.5)).train()
    x, y = torch.rand(10, 3, 2, 2) * 2 - 1, torch.randint(0, 3, (10,))
    batches = [(x[:4], y[:4]), (x[4:], y[4:])]
    assert accuracy_under_attack(C, batches, [0.0, 0.1]) == accuracy_under_attack(C, (x, y), [0.0, 0.1])
    assert C.training
    with torch.no_grad():
        clean = (C.eval()(x).argmax(1) == y).float().mean().item()
    assert accuracy_under_attack(C, (x, y), [0.0])[0.0] == pytest.approx(clean)


def test_table_has_the_papers_columns():
    table = accuracy_table({"Rob-GAN": {0.0: 0.8, 0.02: 0.5}})
    assert table.splitlines()[0] == "| model | ε=0 | ε=0.02 |" and "| Rob-GAN | 80.0% | 50.0% |" in table
