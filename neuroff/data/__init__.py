"""Datasets: the :class:`Dataset` container, the IDX reader and the named loaders.

The names below load on first use (PEP 562), so ``neuroff.data.options`` and the CLI's
``--help`` do not import torch."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Dataset": "neuroff.data.dataset",
    "validation_split": "neuroff.data.dataset",
    "load_idx_dir": "neuroff.data.idx",
    "read_idx": "neuroff.data.idx",
    "DATASET_NAMES": "neuroff.data.loaders",
    "DEFAULT_DATASET": "neuroff.data.loaders",
    "IDX_PREFIX": "neuroff.data.loaders",
    "load_dataset": "neuroff.data.loaders",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'neuroff.data' has no attribute {name!r}")
