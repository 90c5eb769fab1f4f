"""Reader for MNIST-format IDX files (raw or gzipped) and for directories holding an IDX train/test split."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np
import torch

from neuroff.data.dataset import Dataset
from neuroff.errors import NeuroffError

# IDX type code -> big-endian numpy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# Base names (without .gz) tried for each file, in order.
IDX_FILE_NAMES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=f) as g:
                    return g.read()
            return f.read()
    except FileNotFoundError:
        raise NeuroffError(f"IDX file {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise NeuroffError(f"IDX path {path} is a directory, not a file; pass the file itself") from None
    except (OSError, EOFError, zlib.error) as err:
        raise NeuroffError(f"IDX file {path} is corrupt or truncated ({err}); re-download or re-create it") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw) into a numpy array of its stored shape and (native) dtype."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES or data[3] == 0:
        raise NeuroffError(
            f"IDX file {path} has a bad magic number ({data[:4].hex() or 'empty file'}); "
            "it is not an MNIST-format IDX file"
        )
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise NeuroffError(f"IDX file {path} is truncated inside its header; re-download or re-create it")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise NeuroffError(
            f"IDX file {path} holds {len(data)} bytes but its header {list(dims)} needs {expected}; "
            "the file is truncated or corrupt, re-download or re-create it"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))  # a writable, native-order copy


def find_idx_file(directory: str | os.PathLike, key: str) -> Path:
    """Path of the IDX file ``key`` (``train_images``, ``train_labels``, ``test_images``, ``test_labels``)."""
    directory = Path(directory)
    names = IDX_FILE_NAMES[key]
    for base in names:
        for name in (base, base + ".gz"):
            if (directory / name).is_file():
                return directory / name
    raise NeuroffError(
        f"IDX file {names[0]}[.gz] not found in {directory}; put the MNIST-format "
        f"{key.replace('_', ' ')} there (also accepted: {names[1]}[.gz])"
    )


def _images_to_tensor(arr: np.ndarray, path: Path) -> torch.Tensor:
    if arr.dtype != np.uint8 or arr.ndim < 2:
        raise NeuroffError(
            f"IDX image file {path} must hold unsigned bytes [N, H, W...], got {arr.dtype} {list(arr.shape)}; "
            "store pixels as ubyte 0..255"
        )
    if arr.shape[0] == 0 or 0 in arr.shape[1:]:
        raise NeuroffError(f"IDX image file {path} holds no samples (shape {list(arr.shape)}); put the images in it")
    x = torch.from_numpy(arr.reshape(arr.shape[0], -1).astype(np.float32))
    return x.mul_(1.0 / 255.0)


def _labels_to_tensor(arr: np.ndarray, path: Path, n: int) -> torch.Tensor:
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise NeuroffError(f"IDX label file {path} must hold one integer per sample, got {arr.dtype} {list(arr.shape)}")
    if arr.shape[0] != n:
        raise NeuroffError(f"IDX label file {path} has {arr.shape[0]} labels for {n} images; pair matching files")
    if arr.size and arr.min() < 0:
        raise NeuroffError(f"IDX label file {path} holds negative labels; labels must be 0..n_classes-1")
    return torch.from_numpy(arr.astype(np.int64))


def check_labels(y_train: torch.Tensor, y_test: torch.Tensor, where: object) -> int:
    """The number of classes C of a train/test split, after checking that its labels are 0..C-1
    with every class present in training: the classes are counted from the largest label, so one
    stray value (200) would otherwise silently make 201 classes, 190 of them never seen."""
    n_classes = int(y_train.max()) + 1
    missing = sorted(set(range(n_classes)) - set(y_train.unique().tolist()))
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise NeuroffError(
            f"training labels in {where} run up to {n_classes - 1} but class(es) {shown} have no training sample; "
            f"labels must be 0..C-1 with every class in the training split (fix or remove the stray labels)"
        )
    if len(y_test) and int(y_test.max()) >= n_classes:
        raise NeuroffError(
            f"test labels in {where} hold class {int(y_test.max())}, which no training sample has (classes 0..{n_classes - 1}); "
            "fix or remove the stray labels"
        )
    return n_classes


def load_idx_dir(directory: str | os.PathLike, name: str | None = None) -> Dataset:
    """Load the official train/test split from a directory of MNIST-format IDX files; pixels are scaled to [0, 1]."""
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise NeuroffError(f"IDX directory {directory} does not exist; pass a directory holding MNIST-format IDX files")
    paths = {key: find_idx_file(directory, key) for key in IDX_FILE_NAMES}
    arrays = {key: read_idx(p) for key, p in paths.items()}
    x_train = _images_to_tensor(arrays["train_images"], paths["train_images"])
    x_test = _images_to_tensor(arrays["test_images"], paths["test_images"])
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise NeuroffError(
            f"IDX images in {directory} differ in shape: train {arrays['train_images'].shape[1:]} vs "
            f"test {arrays['test_images'].shape[1:]}; use files from one dataset"
        )
    y_train = _labels_to_tensor(arrays["train_labels"], paths["train_labels"], x_train.shape[0])
    y_test = _labels_to_tensor(arrays["test_labels"], paths["test_labels"], x_test.shape[0])
    n_classes = check_labels(y_train, y_test, directory)
    return Dataset(
        name=name or f"idx:{directory}",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        image_shape=tuple(int(s) for s in arrays["train_images"].shape[1:]),
        n_classes=max(n_classes, 2),
    )
