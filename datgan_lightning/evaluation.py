"""Score a checkpoint with the metric callbacks of a config: what ``datgan evaluate`` runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule

from datgan_lightning.callbacks.base import write_json_atomic
from datgan_lightning.errors import ConfigurationError


def evaluate_checkpoint(
    model: LightningModule, datamodule: Any, evaluators: list[Any], ckpt_path: str | None = None,
    device: torch.device | str = "cpu", out: str | Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Load ``ckpt_path`` into ``model``, run each evaluator's ``evaluate(model, datamodule)``, print
    the merged numbers as JSON and write them to ``out`` (default: ``<checkpoint>.metrics.json``).

    ``evaluators`` are objects with ``evaluate(module, datamodule) -> dict``, such as
    :class:`~datgan_lightning.callbacks.ImageQualityMetrics` and
    :class:`~datgan_lightning.callbacks.RobustnessMetrics`.
    """
    if not evaluators:
        raise ConfigurationError(
            "evaluate: no metric callbacks are configured; add e.g. "
            "--trainer.callbacks+=datgan_lightning.callbacks.RobustnessMetrics (or ImageQualityMetrics) to the command or config."
        )
    results: dict[str, Any] = {"checkpoint": ckpt_path}
    if ckpt_path is not None:
        if not Path(ckpt_path).is_file():
            raise ConfigurationError(f"evaluate: ckpt_path={ckpt_path!r} is not a file; pass a checkpoint written by `datgan fit`.")
        checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        model.load_state_dict(checkpoint["state_dict"])
        model.on_load_checkpoint(checkpoint)
    model.to(device)
    datamodule.setup("fit")
    results["generator_iterations"] = getattr(model, "generator_iterations", None)
    for evaluator in evaluators:
        results.update(evaluator.evaluate(model, datamodule))
    print(json.dumps(results, indent=1))
    out = Path(out) if out is not None else Path(ckpt_path or "checkpoint").with_suffix(".metrics.json")
    write_json_atomic(out, results)
    print(f"metrics written to {out}")
    return results
