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


def _setup(tmp_path, train_x):
    path = tmp_path / "images.npz"
    np.savez(path, train_x=train_x)
    dm = NpzImages(str(path), batch_size=2)
    dm.setup()
    return dm.splits["train"].tensors[0]


@pytest.mark.parametrize(
    ("dtype", "values", "expected"),
    [
        (np.uint8, [0, 51, 255], [-1.0, 51 / 127.5 - 1, 1.0]),  # x / 127.5 - 1
        (np.float32, [0.0, 0.25, 1.0], [-1.0, -0.5, 1.0]),  # no negative value: [0, 1], 2x - 1
        (np.float64, [-1.0, 0.0, 0.5], [-1.0, 0.0, 0.5]),  # a negative value: already [-1, 1]
        (np.float16, [0.0, 0.5, 1.0], [-1.0, 0.0, 1.0]),
    ],
)
def test_documented_encodings_map_to_unit_range(tmp_path, dtype, values, expected):
    """The issue's case: float32 images in [0, 1] were read as uint8 levels (every pixel -1 to -0.992)."""
    train = np.array(values, dtype=dtype).reshape(3, 1, 1, 1).repeat(2, 2).repeat(2, 3)
    x = _setup(tmp_path, train)
    assert x.dtype == torch.float32
    torch.testing.assert_close(x[:, 0, 0, 0], torch.tensor(expected), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("train", "message"),
    [
        (np.full((4, 3, 2, 2), 200.0, np.float32), r"^NpzImages: train_x is float32 with values in \[200, 200\]; use uint8 in \[0, 255\] or floats in \[0, 1\] or \[-1, 1\] \(e\.g\. save x / 255"),
        (np.full((4, 3, 2, 2), -1.5, np.float64), r"train_x is float64 with values in \[-1\.5, -1\.5\]; use uint8"),
        (np.full((4, 3, 2, 2), np.nan, np.float32), r"train_x is float32 with NaN or inf; use uint8"),
        (np.zeros((4, 3, 2, 2), np.int64), r"^NpzImages: train_x is int64; use uint8 in \[0, 255\] \(e\.g\. save x\.astype\(np\.uint8\)\)"),
        (np.zeros((4, 3, 2, 2), bool), r"train_x is bool; use uint8"),
        (np.zeros((4, 32, 32, 3), np.uint8), r"^NpzImages: train_x has shape \(4, 32, 32, 3\), which looks channels-last \(N, H, W, C\); NpzImages expects \(N, C, H, W\): save it as train_x=x\.transpose\(0, 3, 1, 2\)\.$"),
        (np.zeros((4, 2), np.uint8), r"train_x has shape \(4, 2\); use images of shape \(N, C, H, W\)"),
    ],
    ids=["float-0-255", "float-below-minus-1", "nan", "int64", "bool", "channels-last", "2d"],
)
def test_other_encodings_and_channels_last_are_refused_in_one_sentence(tmp_path, train, message):
    with pytest.raises(ValueError, match=message) as caught:
        _setup(tmp_path, train)
    assert "\n" not in str(caught.value)


def test_the_test_split_is_checked_too(tmp_path):
    path = tmp_path / "images.npz"
    np.savez(path, train_x=np.zeros((4, 1, 2, 2), np.uint8), test_x=np.zeros((2, 2, 2, 1), np.uint8))
    with pytest.raises(ValueError, match=r"test_x has shape \(2, 2, 2, 1\), which looks channels-last"):
        NpzImages(str(path)).setup()
