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


def logged_rows(logger, key: str) -> list[dict[str, str]]:
    """The rows of a CSVLogger's ``metrics.csv`` in which ``key`` was logged."""
    import csv

    with open(f"{logger.log_dir}/metrics.csv") as f:
        return [row for row in csv.DictReader(f) if row.get(key)]


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
# are the slowest tests: multi-process (DDP) runs, kill-and-resume runs of several subprocesses, benchmark
# smoke runs and torch.compile, each taking tens of seconds to minutes.
SLOW = (
    "tests/distributed/", "tests/callbacks/test_ddp.py", "tests/test_utils.py::test_sum_over_ranks",
    "tests/callbacks/test_eval_speed_benchmark.py", "tests/benchmarks/", "tests/modules/test_compile.py::test_compiles",
    "tests/test_resume.py::test_toy2d_kill_and_resume", "tests/test_resume.py::test_images_with_dat_kill_and_resume",
    "tests/test_resume.py::test_a_kill_during_a_checkpoint_save", "tests/test_resume.py::test_ctrl_c_saves",
    "tests/test_compare.py::test_compare_trains", "tests/test_compare.py::test_a_failing_run",
    "tests/test_configs.py::test_table3_cells_have_the_papers_setup",
)
# Tests that train every config or every (dataset, model) cell: the fast subset keeps the first of each
# folder / model, the CI trains them all.
SAMPLED = {"test_config_trains_one_generator_iteration": lambda params: params["config"].parent.name,
           "test_table2_cell_has_table1_settings_and_matching_shapes": lambda params: params["model"]}


def pytest_collection_modifyitems(config, items):
    sampled = set()
    for item in items:
        group = SAMPLED.get(getattr(item, "originalname", None))
        if group is not None and hasattr(item, "callspec"):
            key = (item.originalname, group(item.callspec.params))
            if key in sampled:
                item.add_marker(pytest.mark.slow)
            sampled.add(key)
        if item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)
