"""Run by ``test_ddp.py`` as subprocesses: a 2-process gloo DDP fit, validate and test with
ImageQualityMetrics (torchmetrics FID, KID, IS and MiFID; real statistics cached on disk) and a fresh
callback scoring the model from that cache under DDP; then, in a process of its own, the same numbers
computed on one device from the trained weights, for comparison.

    python tests/callbacks/ddp_image_quality.py IMAGES.npz OUT_DIR               # the DDP run
    python tests/callbacks/ddp_image_quality.py IMAGES.npz OUT_DIR --one-device  # then one device

The DDP run writes ``OUT_DIR/rank<r>.json`` (``{"fit": [...], "validate": {...}, "test": {...},
"from_cache": {...}}``) and ``OUT_DIR/model.pt``; the one-device run writes ``OUT_DIR/one_device.json``.
The DDP ranks leave without tearing the process group down: torch's gloo can hang
``destroy_process_group`` in a rank whose peer has already exited (seen with torch 2.2 to 2.7).
(DDP inside pytest would re-run the pytest session in the child process, hence a script.)
"""

import json
import os
import sys
from pathlib import Path

import lightning as L
import torch
from torchmetrics.image import FrechetInceptionDistance, InceptionScore, KernelInceptionDistance, MemorizationInformedFrechetInceptionDistance

from datgan_lightning.callbacks import ImageQualityMetrics
from datgan_lightning.data import NpzImages
from datgan_lightning.metrics.extractors import FeatureExtractor
from datgan_lightning.modules import DCGAN


class ProjectionFeatures(FeatureExtractor):
    """A fixed random projection of the pixels: 8 features, and 5 'logits' from them."""

    name, features_dim, logits_dim = "projection", 8, 5

    def __init__(self, output=None) -> None:
        super().__init__(output)
        g = torch.Generator().manual_seed(0)
        self.register_buffer("features", torch.randn(32 * 32, 8, generator=g) / 32)
        self.register_buffer("classes", torch.randn(8, 5, generator=g))

    def extract(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = torch.tanh((images.float() / 127.5 - 1).flatten(1) @ self.features)
        return f, f @ self.classes


def quality(cache_dir) -> ImageQualityMetrics:
    # 23 reals per split and 25 fakes (21 vs test): counts that do not divide by the 2 ranks or the batches
    metrics = {
        "fid": FrechetInceptionDistance(feature=ProjectionFeatures("features")),
        "kid": KernelInceptionDistance(feature=ProjectionFeatures("features"), subsets=10, subset_size=8),
        "is": InceptionScore(feature=ProjectionFeatures("logits"), splits=2),
        "mifid": MemorizationInformedFrechetInceptionDistance(feature=ProjectionFeatures("features")),
    }
    return ImageQualityMetrics(metrics, every_n_iterations=2, num_real={"train": 23, "test": 23}, num_fake={"train": 25, "test": 21},
                               batch_size=4, cache_dir=cache_dir, seed=3)


def main(npz: str, out: Path) -> None:
    callback = quality(out / "cache")
    L.seed_everything(0, verbose=False)
    model = DCGAN(channels=1, ngf=4, ndf=4, latent_dim=8, max_iterations=3)
    data = NpzImages(npz, batch_size=4)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp_find_unused_parameters_true", max_epochs=-1,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=out, callbacks=[callback])
    trainer.fit(model, data)
    (validated,) = trainer.validate(model, data, verbose=False)
    (tested,) = trainer.test(model, data, verbose=False)
    from_cache = quality(out / "cache").evaluate(model, data)  # under DDP, the reals from rank 0's cache
    rank, world_size = trainer.global_rank, trainer.world_size
    if rank == 0:
        torch.save(model.state_dict(), out / "model.pt")
    result = {"world_size": world_size, "fit": callback.history, "validate": validated, "test": tested, "from_cache": from_cache}
    (out / f"rank{rank}.json").write_text(json.dumps(result, indent=1))
    torch.distributed.barrier()  # both ranks have written
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no process-group teardown (see the module docstring)


def one_device(npz: str, out: Path) -> None:
    model = DCGAN(channels=1, ngf=4, ndf=4, latent_dim=8, max_iterations=3)
    model.load_state_dict(torch.load(out / "model.pt", weights_only=True))
    data = NpzImages(npz, batch_size=4)
    for stage in ("fit", "test"):  # as the DDP run's trainer had set it up
        data.setup(stage)
    (out / "one_device.json").write_text(json.dumps(quality(None).evaluate(model, data), indent=1))


if __name__ == "__main__":
    (one_device if "--one-device" in sys.argv[3:] else main)(sys.argv[1], Path(sys.argv[2]))
