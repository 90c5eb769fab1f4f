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


def population_sparsity_per_sample(z: Any) -> np.ndarray:
    """Treves-Rolls sparseness across neurons of each sample, [n_samples] (NaN for a sample
    without activity)."""
    return _treves_rolls(as_matrix(z), axis=1)


def active_fraction_per_sample(z: Any) -> np.ndarray:
    """Fraction of neurons with non-zero activity, per sample, [n_samples]."""
    return (as_matrix(z) != 0).mean(1)


def weighted_neuron_statistics(z: Any, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The silent fraction and the lifetime sparsity of ``z`` on weighted samples: ``weights``
    [R, n_samples] holds R non-negative sample weights (a bootstrap resample's counts); returns
    two [R] arrays, the same numbers as :func:`silent_fraction` and :func:`lifetime_sparsity`
    on the resampled rows (equal weights: the plain statistics)."""
    z = as_matrix(z)
    w = np.asarray(weights, dtype=np.float64)
    total = w.sum(1, keepdims=True)
    silent = ((w @ (z != 0)) == 0).mean(1)
    m1 = (w @ np.abs(z)) / total
    m2 = (w @ z**2) / total
    n = w.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(m2 > 0, (1 - m1**2 / np.where(m2 > 0, m2, 1)) / (1 - 1 / n), np.nan)
    lifetime = np.array([np.nanmean(r) if np.isfinite(r).any() else np.nan for r in s])
    return silent, lifetime


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
    return float(knn_agreement_per_sample(z, y, k).mean())


def knn_agreement_per_sample(z: Any, y: Any, k: int = 5) -> np.ndarray:
    """Per sample, the fraction of its ``k`` nearest neighbours (itself excluded) sharing its
    class, [n_samples]; :func:`knn_agreement` is their mean."""
    from sklearn.neighbors import NearestNeighbors

    z = as_matrix(z)
    y = as_labels(y, len(z))
    if not 1 <= k < len(z):
        raise NeuroffError(f"k={k} nearest neighbours need more than {k} samples (got {len(z)}); use more test samples")
    # kneighbors() without a query excludes each point from its own neighbours, even with duplicates
    idx = NearestNeighbors(n_neighbors=k).fit(z).kneighbors(return_distance=False)
    return (y[idx] == y[:, None]).mean(1)


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


def silhouette_per_sample(z: Any, y: Any, max_samples: int = 2000, seed: int = 0) -> np.ndarray:
    """The silhouette coefficient of each sample of the seeded subsample :func:`silhouette`
    averages (the same subsample), [min(n, max_samples)]."""
    from sklearn.metrics import silhouette_samples
    from sklearn.utils import check_random_state

    z = as_matrix(z)
    y = as_labels(y, len(z))
    n_labels = len(np.unique(y))
    if not 2 <= n_labels < len(z):
        raise NeuroffError(f"the silhouette needs 2 to n-1 classes among the samples, got {n_labels} of {len(z)}")
    if len(z) > max_samples:  # the subsample silhouette_score(sample_size=, random_state=) draws
        keep = check_random_state(seed).permutation(len(z))[:max_samples]
        z, y = z[keep], y[keep]
    return silhouette_samples(z, y)


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


def weighted_cka(a: Any, b: Any, weights: np.ndarray, block: int = 512) -> np.ndarray:
    """Linear CKA of ``a`` and ``b`` on R weighted versions of their samples (``weights``
    [R, n], e.g. bootstrap counts), [R]; equal weights give :func:`linear_cka`.

    With weights w (normalised to sum 1), weighted-centred features and the linear kernels
    ``K = A Aᵀ``, ``L = B Bᵀ``, ``HSIC_w(K, L) = wᵀ (K∘L) w − 2 Σ_i w_i (Kw)_i (Lw)_i +
    (wᵀKw)(wᵀLw)`` and ``CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))``. Every resample then
    costs one pass over the n×n kernels (GEMMs in blocks of ``block`` rows, never the whole
    n×n matrix), instead of three feature-space products of the resampled rows."""
    a, b = as_matrix(a), as_matrix(b)
    if len(a) != len(b):
        raise NeuroffError(f"CKA compares the same samples: got {len(a)} and {len(b)} rows")
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum(1, keepdims=True)
    # centring first changes no HSIC (it is translation invariant) and keeps the kernels small
    a, b = a - a.mean(0), b - b.mean(0)
    quad = {"kl": np.zeros(len(w)), "kk": np.zeros(len(w)), "ll": np.zeros(len(w))}
    kw = (w @ a) @ a.T  # [R, n] = (K w)ᵀ per resample
    lw = (w @ b) @ b.T
    for lo in range(0, len(a), block):
        k = a[lo : lo + block] @ a.T
        m = b[lo : lo + block] @ b.T
        wb = w[:, lo : lo + block]
        for key, kern in (("kl", k * m), ("kk", k * k), ("ll", m * m)):
            quad[key] += np.einsum("ri,ri->r", wb, w @ kern.T)
    s_k = np.einsum("ri,ri->r", w, kw)
    s_l = np.einsum("ri,ri->r", w, lw)
    hsic_kl = quad["kl"] - 2 * np.einsum("ri,ri,ri->r", w, kw, lw) + s_k * s_l
    hsic_kk = quad["kk"] - 2 * np.einsum("ri,ri,ri->r", w, kw, kw) + s_k**2
    hsic_ll = quad["ll"] - 2 * np.einsum("ri,ri,ri->r", w, lw, lw) + s_l**2
    denom = np.sqrt(np.clip(hsic_kk, 0, None) * np.clip(hsic_ll, 0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, hsic_kl / np.where(denom > 0, denom, 1), np.nan)


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


class PooledGrid:
    """Matched neuron pairs prepared for resampled distribution distances.

    Per pair (column j of ``a`` and of ``b``, n samples each), the 2n pooled values are sorted
    and grouped into runs of equal values. With a per-sample weight u_i on both members of a
    pair (a bootstrap count: u_i = c_i; a paired permutation: u_i = ±1, which puts a_i in B's
    group and b_i in A's when -1), the difference of the two weighted empirical CDFs after the
    q-th run is ``D_q = Σ_{runs r ≤ q} Σ_{i in r} sign_i u_i / n`` (sign +1 for a value of A, -1
    for B); then ``W1 = Σ_q |D_q| (t_{q+1} − t_q)`` and ``KS = max_q |D_q|``. The inner sums
    of all pairs are one sparse product ``u @ S`` (S: samples × runs, the signs), so R
    resamples cost one pass over the 2n·P pooled values each, in compiled code. u = 1 gives
    scipy's ``wasserstein_distance`` and the ``ks_2samp`` statistic."""

    def __init__(self, a: np.ndarray, b: np.ndarray):
        from scipy.sparse import csr_matrix

        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        n, p = a.shape
        values = np.concatenate([a, b])  # [2n, P]
        order = np.argsort(values, axis=0, kind="stable")
        t = np.take_along_axis(values, order, 0)
        new_run = np.vstack([np.ones((1, p), bool), np.diff(t, axis=0) > 0])  # [2n, P]
        run_index = np.cumsum(new_run.T.ravel()) - 1  # pair-major: runs of pair 0, then pair 1, ...
        n_runs = new_run.sum(0)
        self.start = np.concatenate([[0], np.cumsum(n_runs)[:-1]])  # first run of each pair
        sample = np.where(order < n, order, order - n).T.ravel()
        sign = np.where(order < n, 1.0, -1.0).T.ravel()
        self.signs = csr_matrix((sign, (sample, run_index)), shape=(n, int(n_runs.sum())))
        values_of_run = t.T.ravel()[new_run.T.ravel()]
        gap = np.diff(values_of_run, append=values_of_run[-1])
        last = np.zeros(len(gap), bool)
        last[self.start[1:] - 1] = True
        last[-1] = True
        self.gap = np.where(last, 0.0, gap)  # the last run of a pair has D = 0 and no gap
        self.n, self.p = n, p

    def distances(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean W1 and mean KS over the pairs, for each row of ``u`` [R, n]: two [R] arrays."""
        per_run = np.asarray((self.signs.T @ np.asarray(u, dtype=np.float64).T).T)  # [R, runs]
        d = np.cumsum(per_run, axis=1)
        before = np.where(self.start > 0, d[:, np.maximum(self.start - 1, 0)], 0.0)  # [R, P]
        d -= np.repeat(before, np.diff(np.append(self.start, d.shape[1])), axis=1)
        d = np.abs(d) / self.n
        w1 = (d * self.gap).sum(1) / self.p
        ks = np.maximum.reduceat(d, self.start, axis=1).mean(1)
        return w1, ks


def weighted_correlation(a: np.ndarray, b: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pearson correlation of column j of ``a`` with column j of ``b`` on R weighted versions of
    the samples (``weights`` [R, n]), [R, P]; 0 where a column is constant."""
    w = np.asarray(weights, dtype=np.float64)
    total = w.sum(1, keepdims=True)
    ma, mb = (w @ a) / total, (w @ b) / total
    cov = (w @ (a * b)) / total - ma * mb
    va = (w @ a**2) / total - ma**2
    vb = (w @ b**2) / total - mb**2
    denom = np.sqrt(np.clip(va, 0, None) * np.clip(vb, 0, None))
    return np.divide(cov, denom, out=np.zeros_like(cov), where=denom > 1e-12)


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
