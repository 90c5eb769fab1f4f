"""The in-memory dataset every model trains on: flattened float images in [0, 1] plus int labels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from neuroff.errors import NeuroffError


@dataclass(frozen=True)
class Dataset:
    """A train/test split of flattened images.

    ``x_*`` are float32 ``[N, D]`` with values in ``[0, 1]``; ``y_*`` are int64 ``[N]`` class indices
    in ``[0, n_classes)``. ``D == prod(image_shape)``. Both splits are already shuffled, so the first
    ``n`` samples of a split are a fair sample of it.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    image_shape: tuple[int, ...]
    n_classes: int

    def __post_init__(self) -> None:
        d = math.prod(self.image_shape)
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.dtype != torch.float32 or x.dim() != 2 or x.shape[1] != d:
                raise NeuroffError(
                    f"dataset {self.name!r}: x_{split} must be float32 [N, {d}], got {x.dtype} "
                    f"{list(x.shape)}; flatten the images to prod(image_shape)={d} features"
                )
            if y.dtype != torch.int64 or y.dim() != 1 or y.shape[0] != x.shape[0]:
                raise NeuroffError(
                    f"dataset {self.name!r}: y_{split} must be int64 [{x.shape[0]}], got {y.dtype} "
                    f"{list(y.shape)}; give one integer label per sample"
                )
            if len(y) and not 0 <= int(y.min()) <= int(y.max()) < self.n_classes:
                raise NeuroffError(
                    f"dataset {self.name!r}: y_{split} holds labels outside 0..{self.n_classes - 1} "
                    f"(min {int(y.min())}, max {int(y.max())}); labels must be class indices 0..C-1"
                )
        if self.n_classes < 2:
            raise NeuroffError(f"dataset {self.name!r} has {self.n_classes} classes; it needs at least 2")

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> Dataset:
        """The first ``n_train`` training and ``n_test`` test samples (``None`` keeps a split whole)."""
        n_train = _check_count("n_train", n_train, self.n_train, self.name)
        n_test = _check_count("n_test", n_test, self.n_test, self.name)
        return Dataset(
            name=self.name,
            x_train=self.x_train[:n_train],
            y_train=self.y_train[:n_train],
            x_test=self.x_test[:n_test],
            y_test=self.y_test[:n_test],
            image_shape=self.image_shape,
            n_classes=self.n_classes,
        )


def _check_count(what: str, n: int | None, available: int, name: str) -> int:
    if n is None:
        return available
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise NeuroffError(f"{what} must be a positive integer, got {n!r}; pass e.g. {what}=1000 or leave it unset")
    if n > available:
        raise NeuroffError(
            f"{what}={n} but dataset {name!r} has only {available} samples in that split; "
            f"pass {what} <= {available} or leave it unset"
        )
    return n


def validation_split(ds: Dataset, fraction: float = 0.1, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Hold out a random ``fraction`` of the training split for validation.

    Returns ``(train_part, val_part)``: both train on the kept training samples; ``train_part`` keeps
    the original test split, while ``val_part``'s test split is the held-out training samples.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction < 1.0:
        raise NeuroffError(f"validation fraction must be in (0, 1), got {fraction!r}; pass e.g. 0.1")
    n_val = int(round(ds.n_train * fraction))
    if n_val < 1 or n_val >= ds.n_train:
        raise NeuroffError(
            f"validation fraction {fraction} of {ds.n_train} training samples leaves an empty split; "
            "use a larger dataset or a fraction between them"
        )
    return hold_out(ds, n_val, seed)


def hold_out(ds: Dataset, n_val: int, seed: int = 0) -> tuple[Dataset, Dataset]:
    """``validation_split`` by count: ``n_val`` random training samples (drawn with ``seed``) held out."""
    if not 1 <= n_val < ds.n_train:
        raise NeuroffError(
            f"a validation split of {n_val} samples needs more training samples than that ({ds.n_train}); "
            f"pass --validation between 1 and {ds.n_train - 1}"
        )
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(ds.n_train, generator=gen)
    val_idx, keep_idx = perm[:n_val], perm[n_val:]
    x_keep, y_keep = ds.x_train[keep_idx], ds.y_train[keep_idx]
    common = dict(image_shape=ds.image_shape, n_classes=ds.n_classes)
    train_part = Dataset(ds.name, x_keep, y_keep, ds.x_test, ds.y_test, **common)
    val_part = Dataset(f"{ds.name}/val", x_keep, y_keep, ds.x_train[val_idx], ds.y_train[val_idx], **common)
    return train_part, val_part
