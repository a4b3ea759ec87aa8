"""Score a checkpoint with the metric callbacks of a config: what ``datgan evaluate`` runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule, LightningModule, Trainer

from datgan_lightning.callbacks.base import write_json_atomic
from datgan_lightning.errors import CheckpointError, ConfigurationError
from datgan_lightning.utils import load_checkpoint


def evaluate_checkpoint(
    model: LightningModule, datamodule: Any, evaluators: list[Any], ckpt_path: str | None = None,
    device: torch.device | str = "cpu", out: str | Path | None = None,
) -> dict[str, Any]:
    """Load ``ckpt_path`` into ``model``, run each evaluator's ``evaluate(model, datamodule)``, print
    the merged numbers as JSON and write them to ``out`` (default: ``<checkpoint>.metrics.json``).
    Without ``ckpt_path`` the model is scored as it is and nothing is written unless ``out`` is given
    (``datgan evaluate`` requires a checkpoint). A missing, truncated or foreign checkpoint raises
    :class:`~datgan_lightning.errors.CheckpointError` in one sentence.

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
        checkpoint = load_checkpoint(ckpt_path)
        try:
            model.load_state_dict(checkpoint["state_dict"])
        except RuntimeError as err:
            detail = next((line.strip() for line in str(err).splitlines()[1:] if line.strip()), str(err).splitlines()[0])
            raise CheckpointError(
                f"evaluate: checkpoint {str(ckpt_path)!r} does not fit the configured {type(model).__name__} ({detail.rstrip('.')}); "
                "pass the config the checkpoint was trained with."
            ) from err
        model.on_load_checkpoint(checkpoint)
    model.to(device)
    datamodule.setup("fit")
    data_shape, model_shape = getattr(datamodule, "image_shape", None), getattr(getattr(model, "generator", None), "output_shape", None)
    if data_shape is not None and model_shape is not None and tuple(data_shape) != tuple(model_shape):
        raise ConfigurationError(
            f"evaluate: the checkpoint's {type(model).__name__} generates samples of shape {tuple(model_shape)} but "
            f"{type(datamodule).__name__} yields {tuple(data_shape)}; pass the config the checkpoint was trained with."
        )
    results["generator_iterations"] = getattr(model, "generator_iterations", None)
    for evaluator in evaluators:
        results.update(evaluator.evaluate(model, datamodule))
    print(json.dumps(results, indent=1))
    if out is None and ckpt_path is None:
        return results  # an in-memory model: nothing to name a file after
    out = Path(out) if out is not None else Path(ckpt_path).with_suffix(".metrics.json")
    write_json_atomic(out, results)
    print(f"metrics written to {out}")
    return results


class DatganTrainer(Trainer):
    """Lightning's Trainer plus the ``evaluate`` verb."""

    def evaluate(
        self, model: LightningModule, datamodule: LightningDataModule | None = None, ckpt_path: str | None = None, out: str | None = None
    ) -> dict[str, Any]:
        """Score ``ckpt_path`` with the configured metric callbacks; print and write JSON (``out``,
        default ``<checkpoint>.metrics.json``)."""
        evaluators = [c for c in self.callbacks if callable(getattr(c, "evaluate", None))]
        return evaluate_checkpoint(model, datamodule, evaluators, ckpt_path, self.strategy.root_device, out)
