"""The real-feature cache key names everything that defines a dataset's pixels (and nothing else)."""

import numpy as np
import torch
from PIL import Image

from datgan_lightning.callbacks.image_quality import data_key
from datgan_lightning.data import CelebA, GaussianMixture2D, ImageFolder, NpzImages
from datgan_lightning.metrics.extractors import FeatureExtractor
from datgan_lightning.metrics.image_metrics import ImageMetrics


def _folder(path, n=4, seed=0):
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path / f"{i}.png")
    return str(path)


def test_options_that_change_the_pixels_change_the_key(tmp_path):
    assert data_key(CelebA(str(tmp_path), crop=140)) != data_key(CelebA(str(tmp_path), crop=100))
    assert data_key(CelebA(str(tmp_path), crop=140)) != data_key(CelebA(str(tmp_path), crop=140, image_size=32))
    root, a, b = _folder(tmp_path / "train"), _folder(tmp_path / "a"), _folder(tmp_path / "b", seed=1)
    assert data_key(ImageFolder(root, test_root=a)) != data_key(ImageFolder(root, test_root=b))
    assert data_key(NpzImages(str(tmp_path / "x.npz"))) != data_key(NpzImages(str(tmp_path / "y.npz")))


def test_loading_options_do_not_change_the_key(tmp_path):
    root = str(tmp_path)
    assert data_key(CelebA(root, batch_size=8, num_workers=0, seed=0)) == data_key(CelebA(root, batch_size=64, num_workers=2, seed=5))


def test_relative_roots_are_resolved_and_the_working_directory_does_not_matter(tmp_path, monkeypatch):
    (tmp_path / "one" / "data").mkdir(parents=True)
    (tmp_path / "two" / "data").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "one")
    here, mixture = data_key(CelebA("data")), data_key(GaussianMixture2D(std=0.05))
    monkeypatch.chdir(tmp_path / "two")
    assert data_key(CelebA("data")) != here  # another folder called "data"
    assert data_key(GaussianMixture2D(std=0.05)) == mixture != data_key(GaussianMixture2D(std=0.1))  # no root: options only


class MeanColour(FeatureExtractor):
    """A 3-number feature extractor (enough for the cache's bookkeeping)."""

    name, features_dim, logits_dim = "meancolour", 3, 3

    def extract(self, images):
        return images.float().mean(dim=(2, 3)), images.float().mean(dim=(2, 3))


class Colours(torch.nn.Module):
    """A generator of flat colours."""

    latent_dim = 3

    def forward(self, z):
        return z.tanh().view(-1, 3, 1, 1).expand(-1, 3, 8, 8)


def test_a_changed_test_root_misses_the_cache(tmp_path):
    from torchmetrics.image import FrechetInceptionDistance

    root, a, b = _folder(tmp_path / "train"), _folder(tmp_path / "a"), _folder(tmp_path / "b", seed=1)
    fids = {}
    for test_root in (a, b):
        dm = ImageFolder(root, test_root=test_root, image_size=8)
        dm.setup("test")
        fid = FrechetInceptionDistance(feature=MeanColour(output="features"))
        metrics = ImageMetrics({"fid": fid}, splits=["test"], num_real={"test": 4}, batch_size=4, cache_dir=tmp_path / "cache")
        fids[test_root] = metrics(Colours(), {"test": dm.test_dataset}, data_key(dm))["fid/test/meancolour"]
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 2
    assert fids[a] != fids[b]
