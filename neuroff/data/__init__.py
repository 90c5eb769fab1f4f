"""Datasets: the :class:`Dataset` container, the IDX reader and the named loaders."""

from neuroff.data.dataset import Dataset, validation_split
from neuroff.data.idx import load_idx_dir, read_idx
from neuroff.data.loaders import DATASET_NAMES, DEFAULT_DATASET, IDX_PREFIX, load_dataset

__all__ = [
    "DATASET_NAMES",
    "DEFAULT_DATASET",
    "IDX_PREFIX",
    "Dataset",
    "load_dataset",
    "load_idx_dir",
    "read_idx",
    "validation_split",
]
