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
    )
    return L.Trainer(**{**defaults, **kwargs})


def image_loader(n=8, channels=3, size=32, batch_size=4):
    """Random images in [-1, 1] with labels, as ``(x, y)`` batches."""
    from torch.utils.data import DataLoader, TensorDataset

    return DataLoader(TensorDataset(torch.rand(n, channels, size, size) * 2 - 1, torch.zeros(n)), batch_size=batch_size)


# The developers' fast subset is `pytest -m "not slow"` (docs/guides/cli.md); the CI runs everything. These
# are the slowest tests on a loaded 2-core machine: multi-process (DDP) runs, kill-and-resume runs of
# several subprocesses, benchmark smoke runs and torch.compile, each taking tens of seconds to minutes.
SLOW = (
    "tests/distributed/test_ddp_training.py", "tests/distributed/test_scale_benchmark.py", "tests/callbacks/test_ddp.py",
    "tests/callbacks/test_eval_speed_benchmark.py", "tests/benchmarks/",
    *(f"tests/test_benchmarks.py::test_{name}" for name in ("toy2d_json", "speed_memory", "mnist_dcgan", "speed_json", "lr_sensitivity", "ablation_json")),
    "tests/test_benchmark_robgan.py", "tests/test_benchmark_stabilizers.py", "tests/modules/test_compile.py::test_compiles",
    "tests/test_resume.py::test_toy2d_kill_and_resume", "tests/test_resume.py::test_images_with_dat_kill_and_resume",
    "tests/test_resume.py::test_a_kill_during_a_checkpoint_save",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
