"""Pure metrics of one layer's latents ``z`` ([n_samples, n_neurons], non-negative: ReLU
activations, spike counts or trace values) and of two models' latents on the same samples.

Every function takes numpy arrays (or torch tensors) and returns numbers or arrays; nothing here
reads files or draws. The formulas are written out in docs/latents.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuroff.engine.readout import as_labels, as_matrix
from neuroff.errors import NeuroffError

# ---------------------------------------------------------------- sparsity


def hoyer_per_sample(z: Any) -> np.ndarray:
    """Hoyer sparseness of each sample's population vector, [n_samples]:
    ``(sqrt(n) - ||z||_1 / ||z||_2) / (sqrt(n) - 1)``; 1 for a one-hot code, 0 for a constant one.
    A sample with no activity at all has no defined sparseness and gets NaN."""
    z = as_matrix(z)
    n = z.shape[1]
    if n < 2:
        raise NeuroffError("the Hoyer index needs at least 2 neurons per layer")
    l1 = np.abs(z).sum(1)
    l2 = np.sqrt((z**2).sum(1))
    out = np.full(len(z), np.nan)
    active = l2 > 0
    out[active] = (np.sqrt(n) - l1[active] / l2[active]) / (np.sqrt(n) - 1)
    return out


def hoyer(z: Any) -> float:
    """Mean Hoyer sparseness over the samples with any activity (NaN if none has)."""
    h = hoyer_per_sample(z)
    return float(np.nanmean(h)) if np.isfinite(h).any() else float("nan")


def silent_fraction(z: Any) -> float:
    """Fraction of neurons that are zero on every sample."""
    z = as_matrix(z)
    return float((np.abs(z).max(0) == 0).mean()) if len(z) else float("nan")


def active_fraction(z: Any) -> float:
    """Mean over samples of the fraction of neurons with non-zero activity."""
    z = as_matrix(z)
    return float((z != 0).mean()) if z.size else float("nan")


def _treves_rolls(z: np.ndarray, axis: int) -> np.ndarray:
    """Vinje-Gallant sparseness ``(1 - a) / (1 - 1/n)`` with the Treves-Rolls activity ratio
    ``a = mean(|z|)^2 / mean(z^2)`` taken along ``axis``; NaN where everything is zero."""
    n = z.shape[axis]
    if n < 2:
        raise NeuroffError("population/lifetime sparsity needs at least 2 neurons and 2 samples")
    m1 = np.abs(z).mean(axis)
    m2 = (z**2).mean(axis)
    out = np.full(m1.shape, np.nan)
    ok = m2 > 0
    out[ok] = (1 - m1[ok] ** 2 / m2[ok]) / (1 - 1 / n)
    return out


def population_sparsity(z: Any) -> float:
    """Treves-Rolls sparseness across neurons, averaged over the active samples (1: one neuron
    carries each sample, 0: all neurons equally active)."""
    s = _treves_rolls(as_matrix(z), axis=1)
    return float(np.nanmean(s)) if np.isfinite(s).any() else float("nan")


def lifetime_sparsity(z: Any) -> float:
    """Treves-Rolls sparseness across samples, averaged over the non-silent neurons (1: each
    neuron answers to a single sample, 0: it fires equally for all)."""
    s = _treves_rolls(as_matrix(z), axis=0)
    return float(np.nanmean(s)) if np.isfinite(s).any() else float("nan")


# ---------------------------------------------------------------- separability


def knn_agreement(z: Any, y: Any, k: int = 5) -> float:
    """Mean fraction of each sample's ``k`` Euclidean nearest neighbours (itself excluded)
    that share its class."""
    from sklearn.neighbors import NearestNeighbors

    z = as_matrix(z)
    y = as_labels(y, len(z))
    if not 1 <= k < len(z):
        raise NeuroffError(f"k={k} nearest neighbours need more than {k} samples (got {len(z)}); use more test samples")
    # kneighbors() without a query excludes each point from its own neighbours, even with duplicates
    idx = NearestNeighbors(n_neighbors=k).fit(z).kneighbors(return_distance=False)
    return float((y[idx] == y[:, None]).mean())


def silhouette(z: Any, y: Any, max_samples: int = 2000, seed: int = 0) -> float:
    """Mean silhouette coefficient of the classes (Euclidean), on a seeded subsample of at most
    ``max_samples`` points (it costs O(n^2))."""
    from sklearn.metrics import silhouette_score

    z = as_matrix(z)
    y = as_labels(y, len(z))
    n_labels = len(np.unique(y))
    if not 2 <= n_labels < len(z):
        raise NeuroffError(f"the silhouette needs 2 to n-1 classes among the samples, got {n_labels} of {len(z)}")
    sample = min(len(z), max_samples) if len(z) > max_samples else None
    return float(silhouette_score(z, y, sample_size=sample, random_state=seed))


# ---------------------------------------------------------------- similarity of two models


def linear_cka(a: Any, b: Any) -> float:
    """Linear centred kernel alignment of two representations of the same samples:
    ``||B^T A||_F^2 / (||A^T A||_F ||B^T B||_F)`` on column-centred A, B. 1 for identical
    representations (and for any rotation or isotropic scaling of one), 0 for unrelated ones;
    NaN when one of them is constant."""
    a, b = as_matrix(a), as_matrix(b)
    if len(a) != len(b):
        raise NeuroffError(f"CKA compares the same samples: got {len(a)} and {len(b)} rows")
    a = a - a.mean(0)
    b = b - b.mean(0)
    denom = np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b)
    return float(np.linalg.norm(b.T @ a) ** 2 / denom) if denom > 0 else float("nan")


def neuron_correlation(a: Any, b: Any) -> np.ndarray:
    """Pearson correlation of every neuron of ``a`` with every neuron of ``b`` over the same
    samples, [n_a, n_b]; a constant (e.g. silent) neuron correlates 0 with everything."""
    a, b = as_matrix(a), as_matrix(b)
    if len(a) != len(b):
        raise NeuroffError(f"neuron matching compares the same samples: got {len(a)} and {len(b)} rows")

    def standardise(z: np.ndarray) -> np.ndarray:
        z = z - z.mean(0)
        sd = z.std(0)
        return np.divide(z, sd, out=np.zeros_like(z), where=sd > 0)

    return standardise(a).T @ standardise(b) / len(a)


def match_neurons(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair each neuron of ``a`` with a distinct neuron of ``b`` so that the summed correlation
    is maximal (Hungarian algorithm). Returns (indices in a, indices in b, their correlations);
    min(n_a, n_b) pairs."""
    from scipy.optimize import linear_sum_assignment

    corr = neuron_correlation(a, b)
    rows, cols = linear_sum_assignment(corr, maximize=True)
    return rows, cols, corr[rows, cols]


def _scale_to_unit(z: np.ndarray) -> np.ndarray:
    top = np.abs(z).max()
    return z / top if top > 0 else z


def matched_distribution_distances(a: Any, b: Any, normalize: bool = True) -> dict[str, np.ndarray]:
    """Per matched neuron pair, the Wasserstein-1 and Kolmogorov-Smirnov distances between the
    two neurons' activity distributions over the samples.

    With ``normalize`` each model's layer is first divided by its own largest value, so spike
    counts (0..T) and ReLU activations (arbitrary units) are compared on a common [0, 1] scale;
    without it both distances mostly measure the difference of units. Neurons are paired by
    :func:`match_neurons` first because neuron i of one model has no relation to neuron i of
    another. Returns arrays ``index_a``, ``index_b``, ``correlation``, ``wasserstein``, ``ks``
    with one entry per pair.
    """
    from scipy.stats import ks_2samp, wasserstein_distance

    a, b = as_matrix(a), as_matrix(b)
    rows, cols, corr = match_neurons(a, b)
    if normalize:
        a, b = _scale_to_unit(a), _scale_to_unit(b)
    w = np.array([wasserstein_distance(a[:, i], b[:, j]) for i, j in zip(rows, cols)])
    # only the statistic D is used; "asymp" skips the exact p-value, which fails for large n
    ks = np.array([ks_2samp(a[:, i], b[:, j], method="asymp").statistic for i, j in zip(rows, cols)])
    return {"index_a": rows, "index_b": cols, "correlation": corr, "wasserstein": w, "ks": ks}


# ---------------------------------------------------------------- class-conditional statistics


def class_mean_activity(z: Any, y: Any, n_classes: int) -> np.ndarray:
    """Mean activity of every neuron per class, [n_classes, n_neurons] (NaN rows for classes
    without samples)."""
    z = as_matrix(z)
    y = as_labels(y, len(z))
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise NeuroffError(f"labels must lie in [0, {n_classes}); got {y.min()}..{y.max()}")
    out = np.full((n_classes, z.shape[1]), np.nan)
    for c in range(n_classes):
        if (y == c).any():
            out[c] = z[y == c].mean(0)
    return out


def class_centroid_distances(z: Any, y: Any, n_classes: int) -> np.ndarray:
    """Euclidean distances between the class centroids, [n_classes, n_classes]."""
    from scipy.spatial.distance import cdist

    return cdist(m := class_mean_activity(z, y, n_classes), m)
