"""The seeded training subset of the image datamodules (``subset_fraction``, ``subset_seed``): its size,
its seed, nesting across fractions, untouched test split, one-sentence errors, and the real-feature cache
key that changes with it (and only when a subset is taken)."""

import numpy as np
import pytest
import torch
from PIL import Image

from datgan_lightning.callbacks.image_quality import data_key
from datgan_lightning.data import ImageFolder, NpzImages
from datgan_lightning.data.base import subset_indices


def _npz(path, n=50):
    # image i is filled with the grey level i, so a batch names the images it holds
    train = np.arange(n, dtype=np.uint8).reshape(n, 1, 1, 1).repeat(3, 1).repeat(2, 2).repeat(2, 3)
    np.savez(path, train_x=train, train_y=np.arange(n) % 10, test_x=train[:7], test_y=np.zeros(7, dtype=np.int64))
    return str(path)


def _levels(dataset):
    return sorted(int(round((x[0, 0, 0].item() + 1) * 127.5)) for x, _ in dataset)


def test_subset_indices_pinned_sorted_distinct_and_nested():
    assert subset_indices(10, 0.3, seed=0).tolist() == [1, 4, 7]  # torch.randperm(10, seed 0)[:3], sorted
    assert subset_indices(10, 1.0, seed=3).tolist() == list(range(10))
    small, large = subset_indices(1000, 0.1, seed=5), subset_indices(1000, 0.2, seed=5)
    assert len(small) == 100 and len(large) == 200 and len(set(large.tolist())) == 200
    assert set(small.tolist()) <= set(large.tolist())  # 10% is inside 20% for one seed
    assert subset_indices(1000, 0.1, seed=6).tolist() != small.tolist()
    assert len(subset_indices(50_000, 0.1, seed=0)) == 5000  # DiffAugment's 10% of CIFAR-10, not 5001


@pytest.mark.parametrize("fraction, kept", [(1.0, 50), (0.2, 10), (0.1, 5)])
def test_npz_trains_on_the_fraction_and_keeps_the_whole_test_split(tmp_path, fraction, kept):
    dm = NpzImages(_npz(tmp_path / "d.npz"), batch_size=5, subset_fraction=fraction, subset_seed=1)
    dm.setup("fit")
    assert len(dm.train_dataset) == kept and len(dm.test_dataset) == 7
    expected = subset_indices(50, fraction, seed=1).tolist()
    assert _levels(dm.train_dataset) == expected
    x, y = dm.train_dataset.tensors
    assert y.tolist() == [i % 10 for i in expected]  # labels follow their images
    seen = sorted(int(round((v + 1) * 127.5)) for batch, _ in dm.train_dataloader() for v in batch[:, 0, 0, 0].tolist())
    assert seen == expected  # the loader draws only from the subset


def test_same_subset_seed_same_images_other_seed_other_images(tmp_path):
    path = _npz(tmp_path / "d.npz")

    def images(seed, loader_seed=0):
        dm = NpzImages(path, subset_fraction=0.2, subset_seed=seed, seed=loader_seed)
        dm.setup()
        return _levels(dm.train_dataset)

    assert images(0) == images(0) == images(0, loader_seed=7) != images(1)


def test_image_folder_subset(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "train").mkdir()
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "train" / f"{i}.png")
    full = ImageFolder(str(tmp_path / "train"), image_size=8, batch_size=2)
    part = ImageFolder(str(tmp_path / "train"), image_size=8, batch_size=2, subset_fraction=0.3, subset_seed=0)
    full.setup(), part.setup()
    assert len(part.train_dataset) == 3
    for mine, index in zip(part.train_dataset, subset_indices(10, 0.3, seed=0).tolist()):
        assert torch.equal(mine[0], full.train_dataset[index][0])


@pytest.mark.parametrize("bad", [0, -0.5, 1.5, float("nan"), float("inf"), True])
def test_a_fraction_outside_zero_one_is_one_sentence(tmp_path, bad):
    message = rf"subset_fraction={bad!r} is invalid; use a fraction of the training images in \(0, 1\], e\.g\. 0\.1 for 10% \(1 keeps them all\)\.$"
    with pytest.raises(ValueError, match=r"^NpzImages: " + message):
        NpzImages(str(tmp_path / "d.npz"), subset_fraction=bad)
    with pytest.raises(ValueError, match=r"^ImageFolder: " + message):
        ImageFolder(str(tmp_path), subset_fraction=bad)


def test_a_subset_smaller_than_a_batch_is_refused_when_training_asks(tmp_path):
    dm = NpzImages(_npz(tmp_path / "d.npz"), batch_size=8, subset_fraction=0.1)
    dm.setup("fit")
    with pytest.raises(ValueError, match="only 5 samples, fewer than one batch"):
        dm.train_dataloader()


def test_the_cache_key_changes_with_the_fraction_and_its_seed_but_not_for_the_full_set(tmp_path):
    path = _npz(tmp_path / "d.npz")
    key = lambda **kw: data_key(NpzImages(path, **kw))  # noqa: E731
    assert len({key(), key(subset_fraction=0.2), key(subset_fraction=0.1), key(subset_fraction=0.1, subset_seed=1)}) == 4
    assert key(subset_fraction=0.2, seed=3) == key(subset_fraction=0.2, seed=4)  # the loader's shuffling seed is not the subset's
    # every image, whatever subset_seed: the key the full set had before the option existed
    assert key() == key(subset_fraction=1.0, subset_seed=9) == key(subset_fraction=1)
    assert "subset_fraction" not in NpzImages(path).hparams and NpzImages(path, subset_fraction=0.5).hparams["subset_fraction"] == 0.5
    folder = str(tmp_path)
    assert data_key(ImageFolder(folder)) != data_key(ImageFolder(folder, subset_fraction=0.5))
