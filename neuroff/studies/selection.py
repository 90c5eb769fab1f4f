"""Choosing a setting on a validation split carved from the training set, never on the test set.

``validation_curves`` trains a configuration on the kept training samples for several seeds and
records the held-out validation accuracy after every epoch; ``smallest_sufficient_epochs`` turns
the mean curve into a default epoch count; ``test_once`` then trains with the chosen setting on
the whole training set and reports the test accuracy once."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from neuroff import engine
from neuroff.data import Dataset, validation_split
from neuroff.engine.options import FFConfig
from neuroff.errors import NeuroffError


def validation_curves(
    config: FFConfig, dataset: Dataset, seeds: Sequence[int], fraction: float = 0.2, progress: bool = False
) -> list[list[float]]:
    """Per seed, the validation accuracy (by the family's read-out) after each of ``config.epochs``
    epochs; the held-out ``fraction`` of the training set is drawn with that seed."""
    curves = []
    for seed in seeds:
        _, val = validation_split(dataset, fraction, seed)
        cfg = dataclasses.replace(config, seed=seed, n_train=None, n_test=None)
        trained = engine.train(cfg, dataset=val, progress=progress)
        curves.append([record["test_accuracy"] for record in trained.history])
    return curves


def mean_curve(curves: Sequence[Sequence[float]]) -> list[float]:
    if not curves or len({len(c) for c in curves}) != 1:
        raise NeuroffError("validation curves must be non-empty and of equal length")
    return [sum(values) / len(values) for values in zip(*curves)]


def smallest_sufficient_epochs(curve: Sequence[float], candidates: Sequence[int], tolerance: float = 0.01) -> int:
    """The fewest epochs among ``candidates`` (1-based) whose mean validation accuracy lies within
    ``tolerance`` of the best candidate's: more epochs than that buy less than the tolerance."""
    usable = [e for e in sorted(candidates) if 1 <= e <= len(curve)]
    if not usable:
        raise NeuroffError(f"no candidate epoch count in {list(candidates)} fits a curve of {len(curve)} epochs")
    best = max(curve[e - 1] for e in usable)
    return next(e for e in usable if curve[e - 1] >= best - tolerance)


def test_once(config: FFConfig, dataset: Dataset, seeds: Sequence[int]) -> list[dict[str, float]]:
    """The chosen setting trained on the whole training set per seed: test accuracy and seconds."""
    rows = []
    for seed in seeds:
        start = time.perf_counter()
        trained = engine.train(dataclasses.replace(config, seed=seed), dataset=dataset, progress=False)
        rows.append({"seed": seed, "test_accuracy": trained.history[-1]["test_accuracy"], "seconds": time.perf_counter() - start})
    return rows


test_once.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite its name
