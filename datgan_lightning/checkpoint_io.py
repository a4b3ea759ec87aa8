"""Checkpoints written atomically beside their final path.

Lightning's default ``TorchCheckpointIO`` serializes into memory and then writes through an fsspec
transaction, whose local file is a ``tempfile.mkstemp()`` in the *system* temp directory moved into place
with ``shutil.move``. That is a rename only when the temp directory and the checkpoint folder share a
filesystem; otherwise (``/tmp`` on tmpfs, checkpoints on a disk or network share, as on many clusters)
``shutil.move`` copies into the final path, and a job killed during the copy leaves a truncated
``last.ckpt`` (and an orphan file in ``/tmp``). :class:`AtomicCheckpointIO` writes to a temporary file in
the checkpoint's own folder, fsyncs it and renames it over the old file: a reader, or a resume after a
kill at any moment, sees the old checkpoint or the new one, never part of one.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from fsspec.implementations.local import LocalFileSystem
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.fabric.utilities.types import _PATH

from datgan_lightning.utils import write_atomically


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local saves go to ``.<name>.<random>.tmp`` in the target folder, are
    fsynced, and then atomically replace the target (``os.replace``). Remote paths (``s3://`` ...) are
    saved as Lightning does; a temporary file left by a save killed mid-write is removed by the next save of
    that checkpoint. A checkpoint whose weights are not all finite is not written at all (a
    warning says so), whichever callback asked for it. The ``datgan`` command uses it for every run; in
    Python: ``Trainer(plugins=[AtomicCheckpointIO()])``."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None) -> None:
        bad = next((k for k, v in (checkpoint.get("state_dict") or {}).items()
                    if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())), None)
        if bad is not None:  # e.g. ModelCheckpoint(save_on_exception=True) after a divergence: keep the last good file
            warnings.warn(f"checkpoint {str(path)!r} was not written: weight {bad} is not finite (NaN/inf).", stacklevel=2)
            return None
        if storage_options is not None or not isinstance(get_filesystem(path), LocalFileSystem):
            return super().save_checkpoint(checkpoint, path, storage_options)
        path = Path(path)
        for leftover in path.parent.glob(f".{path.name}.*.tmp"):  # from a save killed mid-write (one writer: rank 0)
            leftover.unlink(missing_ok=True)
        write_atomically(path, lambda tmp: torch.save(checkpoint, tmp), fsync=True)
        return None
