"""Run by ``test_ddp.py`` as a subprocess: a 2-process gloo DDP fit, validate and test with
ImageQualityMetrics, then, on each rank, the same numbers computed on one device for comparison.

    python tests/callbacks/ddp_image_quality.py IMAGES.npz OUT_DIR

Writes ``OUT_DIR/rank<r>.json``: ``{"fit": [...], "validate": {...}, "test": {...}, "one_device": {...}}``.
(DDP inside pytest would re-run the pytest session in the child process, hence a script.)
"""

import json
import sys
from pathlib import Path

import lightning as L
import torch

from datgan_lightning.callbacks import ImageQualityMetrics
from datgan_lightning.callbacks.image_quality import data_key
from datgan_lightning.data import NpzImages
from datgan_lightning.metrics import ImageQuality
from datgan_lightning.metrics.extractors import FeatureExtractor
from datgan_lightning.modules import DCGAN


class ProjectionFeatures(FeatureExtractor):
    """A fixed random projection of the pixels: 8 features, and 5 'logits' from them."""

    name, num_features = "projection", 8

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.register_buffer("features", torch.randn(32 * 32, 8, generator=g) / 32)
        self.register_buffer("classes", torch.randn(8, 5, generator=g))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = torch.tanh(images.flatten(1) @ self.features)
        return f, f @ self.classes


def main(npz: str, out: Path) -> None:
    # 23 reals per split and 25 fakes: counts that do not divide by the 2 ranks
    options = dict(num_real={"train": 23, "test": 23}, num_fake={"train": 25, "test": 25}, batch_size=4, kid_subsets=10,
                   kid_subset_size=8, is_splits=2, seed=3)  # fmt: skip
    callback = ImageQualityMetrics(ProjectionFeatures(), every_n_iterations=2, cache_dir=None, **options)
    L.seed_everything(0, verbose=False)
    model = DCGAN(channels=1, ngf=4, ndf=4, latent_dim=8, max_iterations=3)
    data = NpzImages(npz, batch_size=4)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp_find_unused_parameters_true", max_epochs=-1,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=out, callbacks=[callback])  # fmt: skip
    trainer.fit(model, data)
    (validated,) = trainer.validate(model, data, verbose=False)
    (tested,) = trainer.test(model, data, verbose=False)
    one_device = ImageQuality(ProjectionFeatures(), **options)(
        model.sampling_generator, {"train": data.train_dataset, "test": data.test_dataset}, data_key=data_key(data)
    )
    result = {"world_size": trainer.world_size, "fit": callback.history, "validate": validated, "test": tested, "one_device": one_device}
    (out / f"rank{trainer.global_rank}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
