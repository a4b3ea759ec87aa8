"""The image datamodules on files generated in a temp dir, in each dataset's on-disk layout.

torchvision checks the MD5 of the official CIFAR/STL-10/CelebA files; generated stand-ins cannot
match them, so those tests switch torchvision's integrity check off, and
everything else (file parsing, splits, our transforms and loaders) runs for real.
"""

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import datasets

from datgan_lightning.data import CIFAR10, CIFAR100, MNIST, STL10, CelebA, ImageFolder, LSUNBedroom, TinyImageNet
from datgan_lightning.errors import DatasetNotFoundError

RNG = np.random.default_rng(0)


def _first_batch(dm):
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    return images, labels


def _check_images(images, shape):
    assert images.shape[1:] == shape and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1 and images.min() < -0.25 and images.max() > 0.25  # scaled to [-1, 1], not [0, 1]


def _trust_files(monkeypatch, dataset_class):
    monkeypatch.setattr(dataset_class, "_check_integrity", lambda self: True)


def _write_png(path, size=(40, 30), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = 3 if mode == "RGB" else 1
    Image.fromarray(RNG.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8).squeeze(), mode).save(path)


# ------------------------------------------------------------------ CIFAR
@pytest.mark.parametrize("module, folder, train_files, label_key", [
    (CIFAR10, "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "labels"),
    (CIFAR100, "cifar-100-python", ["train"], "fine_labels"),
])
def test_cifar_layouts(tmp_path, monkeypatch, module, folder, train_files, label_key):
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *args, **kwargs: True)
    base = tmp_path / folder
    base.mkdir()
    for name in [*train_files, "test_batch" if module is CIFAR10 else "test"]:
        batch = {"data": RNG.integers(0, 256, (4, 3072), dtype=np.uint8), label_key: [1, 2, 3, 4]}
        (base / name).write_bytes(pickle.dumps(batch))
    meta_name, meta_key = ("batches.meta", "label_names") if module is CIFAR10 else ("meta", "fine_label_names")
    (base / meta_name).write_bytes(pickle.dumps({meta_key: [str(i) for i in range(100)]}))
    dm = module(str(tmp_path), batch_size=3)
    images, labels = _first_batch(dm)
    _check_images(images, (3, 32, 32))
    assert len(dm.train_dataset) == 4 * len(train_files) and len(dm.test_dataset) == 4 and dm.image_shape == (3, 32, 32)
    assert set(labels.tolist()) <= {1, 2, 3, 4}


# ----------------------------------------------------------------- STL-10
def test_stl10_trains_on_unlabeled_at_48_and_tests_on_test(tmp_path, monkeypatch):
    _trust_files(monkeypatch, datasets.STL10)
    base = tmp_path / "stl10_binary"
    base.mkdir()
    RNG.integers(0, 256, 5 * 3 * 96 * 96, dtype=np.uint8).tofile(base / "unlabeled_X.bin")
    RNG.integers(0, 256, 2 * 3 * 96 * 96, dtype=np.uint8).tofile(base / "test_X.bin")
    np.array([1, 10], dtype=np.uint8).tofile(base / "test_y.bin")
    dm = STL10(str(tmp_path), batch_size=5)
    images, labels = _first_batch(dm)
    _check_images(images, (3, 48, 48))
    assert labels.tolist() == [-1] * 5 and len(dm.test_dataset) == 2 and dm.image_shape == (3, 48, 48)


# ----------------------------------------------------------------- CelebA
def test_celeba_crops_and_resizes_to_64(tmp_path, monkeypatch):
    _trust_files(monkeypatch, datasets.CelebA)
    base = tmp_path / "celeba"
    names = [f"{i:06d}.jpg" for i in range(1, 5)]
    for name in names:
        _write_png(base / "img_align_celeba" / name, size=(178, 218))
    (base / "list_eval_partition.txt").write_text("".join(f"{n} {s}\n" for n, s in zip(names, [0, 0, 2, 2])))
    (base / "identity_CelebA.txt").write_text("".join(f"{n} {i}\n" for i, n in enumerate(names)))
    for file, header in [("list_bbox_celeba.txt", "x_1 y_1 width height"), ("list_landmarks_align_celeba.txt", "lefteye_x lefteye_y"),
                         ("list_attr_celeba.txt", "Smiling Young")]:
        columns = len(header.split())
        rows = "".join(f"{n} {' '.join(['1'] * columns)}\n" for n in names)
        (base / file).write_text(f"{len(names)}\n{header}\n{rows}")
    dm = CelebA(str(tmp_path), batch_size=2)
    images, _ = _first_batch(dm)
    _check_images(images, (3, 64, 64))
    assert len(dm.train_dataset) == 2 and len(dm.test_dataset) == 2


# ------------------------------------------------------------------ MNIST
def _write_idx(path, array, compress):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
def test_mnist_test_split_only_folder_trains_on_its_10k_layout(tmp_path, compress):
    images = RNG.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    suffix = ".gz" if compress else ""
    _write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images, compress)
    _write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", np.arange(6), compress)
    dm = MNIST(str(tmp_path), batch_size=6)
    batch, labels = _first_batch(dm)
    _check_images(batch, (1, 32, 32))
    assert len(dm.train_dataset) == 6 and sorted(labels.tolist()) == list(range(6))
    first = dm.train_dataset[0][0]  # 28x28 digit padded by 2 background (-1) pixels on each side
    assert torch.all(first[:, :2] == -1) and torch.all(first[:, :, -2:] == -1)
    assert torch.allclose(first[0, 2:30, 2:30], torch.from_numpy(images[0]).float() / 127.5 - 1)


def test_mnist_torchvision_layout_and_native_28(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 5), ("t10k", 3)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", RNG.integers(0, 256, (n, 28, 28)), False)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n), False)
    dm = MNIST(str(tmp_path), batch_size=5, image_size=28)
    images, _ = _first_batch(dm)
    _check_images(images, (1, 28, 28))
    assert (len(dm.train_dataset), len(dm.test_dataset)) == (5, 3)


# ---------------------------------------------------------------- folders
def test_image_folder_flat_and_with_class_subfolders(tmp_path):
    for i in range(3):
        _write_png(tmp_path / "flat" / f"{i}.png")
        _write_png(tmp_path / "classes" / f"c{i % 2}" / f"{i}.jpg")
    flat = ImageFolder(str(tmp_path / "flat"), image_size=16, batch_size=3)
    images, labels = _first_batch(flat)
    _check_images(images, (3, 16, 16))
    assert labels.tolist() == [-1, -1, -1] and flat.test_dataset is None
    classes = ImageFolder(str(tmp_path / "classes"), test_root=str(tmp_path / "flat"), image_size=16, channels=1, batch_size=3)
    images, labels = _first_batch(classes)
    _check_images(images, (1, 16, 16))
    assert sorted(labels.tolist()) == [0, 0, 1] and len(classes.test_dataset) == 3


def test_tiny_imagenet_layout(tmp_path):
    for wnid in ("n01", "n02"):
        for i in range(2):
            _write_png(tmp_path / "train" / wnid / "images" / f"{wnid}_{i}.JPEG", size=(64, 64))
    _write_png(tmp_path / "val" / "images" / "val_0.JPEG", size=(64, 64))
    dm = TinyImageNet(str(tmp_path), batch_size=4)
    images, labels = _first_batch(dm)
    _check_images(images, (3, 64, 64))
    assert sorted(labels.tolist()) == [0, 0, 1, 1] and len(dm.test_dataset) == 1


def test_lsun_nested_export_is_one_unlabeled_set(tmp_path):
    for i, sub in enumerate(["0/a", "0/b", "1/c"]):
        _write_png(tmp_path / sub / f"{i}.webp", size=(80, 64))
    dm = LSUNBedroom(str(tmp_path), batch_size=3)
    images, labels = _first_batch(dm)
    _check_images(images, (3, 64, 64))
    assert labels.tolist() == [-1, -1, -1] and dm.test_dataset is None


def test_loaders_are_seeded(tmp_path):
    for i in range(8):
        _write_png(tmp_path / f"{i}.png", size=(8, 8))
    first = [_first_batch(ImageFolder(str(tmp_path), image_size=8, batch_size=4, seed=s))[0] for s in (1, 1, 2)]
    assert torch.equal(first[0], first[1]) and not torch.equal(first[0], first[2])


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize("module, hint", [
    (CIFAR10, "cifar-10-batches-py"), (CIFAR100, "cifar-100-python"), (STL10, "stl10_binary"), (CelebA, "img_align_celeba"),
    (MNIST, "t10k-images-idx3-ubyte"), (TinyImageNet, "tiny-imagenet-200.zip"), (LSUNBedroom, "export"),
])
def test_missing_root_says_where_it_looked_how_to_get_it_and_which_flag(tmp_path, module, hint):
    root = tmp_path / "nowhere"
    with pytest.raises(DatasetNotFoundError) as info:
        module(str(root)).setup("fit")
    message = str(info.value)
    assert str(root) in message and hint in message and message.count("\n") == 0
    assert ("download=true" in message) == module.supports_download


def test_existing_but_empty_root_is_the_same_clear_error(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"CIFAR10: no CIFAR-10 found at root=.*torchvision said"):
        CIFAR10(str(tmp_path)).setup("fit")
    with pytest.raises(DatasetNotFoundError, match=r"MNIST: no MNIST found at root="):
        MNIST(str(tmp_path)).setup("fit")


@pytest.mark.parametrize("kwargs, message", [
    ({"image_size": 0}, r"image_size=0 is invalid"), ({"batch_size": 0}, r"batch_size=0 is invalid"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CIFAR10("data", **kwargs)
