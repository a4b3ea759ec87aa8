import numpy as np
import pytest
import torch

from datgan_lightning.data import NpzImages
from tests.conftest import REPO

SHARED_CIFAR = REPO.parent / "shared" / "data" / "cifar10_subset.npz"


def test_generated_npz_scaled_to_unit_range(tmp_path):
    path = tmp_path / "tiny.npz"
    train = np.zeros((10, 3, 8, 8), dtype=np.uint8)
    train[0] = 255
    np.savez(path, train_x=train, train_y=np.arange(10), test_x=np.full((3, 3, 8, 8), 51, dtype=np.uint8))
    dm = NpzImages(str(path), batch_size=4)
    dm.setup("fit")
    assert dm.image_shape == (3, 8, 8)
    batches = list(dm.train_dataloader())
    assert len(batches) == 2  # 10 images, batch 4, last incomplete batch dropped
    x, y = dm.splits["train"].tensors
    assert x[0].eq(1).all() and x[1].eq(-1).all() and y.tolist() == list(range(10))
    tx, ty = next(iter(dm.test_dataloader()))
    torch.testing.assert_close(tx, torch.full((3, 3, 8, 8), 51 / 127.5 - 1))
    assert ty.tolist() == [-1, -1, -1]


def test_shuffling_is_seeded(tmp_path):
    path = tmp_path / "tiny.npz"
    np.savez(path, train_x=np.arange(16, dtype=np.uint8).reshape(16, 1, 1, 1).repeat(2, 2).repeat(2, 3))
    orders = []
    for seed in (0, 0, 1):
        dm = NpzImages(str(path), batch_size=16, seed=seed)
        dm.setup()
        orders.append(next(iter(dm.train_dataloader()))[0][:, 0, 0, 0].tolist())
    assert orders[0] == orders[1] != orders[2]


def test_missing_file_says_where_and_what(tmp_path):
    dm = NpzImages(str(tmp_path / "nope.npz"))
    with pytest.raises(FileNotFoundError, match=r"NpzImages: path='.*nope.npz' does not exist; point `path` at an .npz"):
        dm.setup()


@pytest.mark.skipif(not SHARED_CIFAR.is_file(), reason=f"offline CIFAR-10 subset not found at {SHARED_CIFAR}")
def test_shared_cifar10_subset():
    dm = NpzImages(str(SHARED_CIFAR), batch_size=64)
    dm.setup()
    x, y = dm.splits["train"].tensors
    assert x.shape == (4660, 3, 32, 32) and len(dm.splits["test"]) == 846
    assert x.min() >= -1 and x.max() <= 1 and set(y.unique().tolist()) == set(range(10))
