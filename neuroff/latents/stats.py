"""Uncertainty of the latent metrics: bootstrap confidence intervals over the test samples
(``scipy.stats.bootstrap``, percentile method) and permutation tests (``scipy.stats.
permutation_test``) for "two models differ".

Every statistic here is a function of *which samples* enter it: it receives resampled sample
indices ``idx`` ([R, n], or [n] for the observed value) and returns one number per row, so
one vectorised call evaluates a batch of resamples. Per-sample metrics (Hoyer, 5-NN agreement,
probe correctness, ...) are means of a per-sample vector; metrics of the whole sample (silent
fraction, lifetime sparsity, CKA, matched-neuron distances) are evaluated on the resample's
counts. What stays fixed across resamples (the k-NN graph, the trained probe, the neuron
matching, the layer-max scaling) is named in docs/latents.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from neuroff.latents import metrics as M

CONFIDENCE = 0.95
# statistics of the whole sample whose resamples are biased one way (see bootstrap_ci)
BASIC_INTERVAL = ("silent_fraction", "lifetime_sparsity")
BATCH = 50  # resamples per vectorised call: bounds the memory of the [batch, n, ...] arrays

Statistic = Callable[[np.ndarray], np.ndarray]


def counts(idx: np.ndarray, n: int) -> np.ndarray:
    """Bootstrap indices [R, n] (or [n]) as per-sample counts [R, n] (float64)."""
    idx = np.atleast_2d(idx)
    flat = (idx + n * np.arange(len(idx))[:, None]).ravel()
    return np.bincount(flat, minlength=n * len(idx)).reshape(len(idx), n).astype(np.float64)


def _squeeze(value: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return value[0] if np.ndim(idx) == 1 else value


def of_counts(f: Callable[[np.ndarray], np.ndarray], n: int) -> Statistic:
    """A statistic of resample indices from ``f(counts [R, n]) -> [R]``."""
    return lambda idx: _squeeze(f(counts(idx, n)), idx)


def of_mean(values: np.ndarray) -> Statistic:
    """The mean of a per-sample vector over the resampled samples (NaN entries left out)."""
    v = np.asarray(values, dtype=np.float64)
    if np.isnan(v).any():
        return lambda idx: np.nanmean(v[idx], axis=-1)
    return lambda idx: v[idx].mean(-1)


def bootstrap_ci(statistic: Statistic, n: int, n_resamples: int = 1000, seed: int = 0, method: str = "percentile") -> tuple[float, float]:
    """95 % bootstrap interval of ``statistic`` over ``n`` samples (resampled with replacement,
    ``n_resamples`` times, seeded). ``method``: "percentile", or "basic" (the percentile
    interval reflected about the estimate) for statistics of the whole sample that resampling
    biases in one direction: a neuron silent on all n samples is silent on every resample, and
    one that fires on a single sample is silent on a third of them, so resamples only ever show
    more silent neurons; "basic" turns that bias into the correction it implies (more samples
    would show fewer). (NaN, NaN) if the statistic is undefined on the resamples or
    ``n_resamples`` is 0."""
    from scipy.stats import bootstrap

    if n_resamples < 1 or n < 2:
        return float("nan"), float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        import warnings

        with warnings.catch_warnings():  # an all-NaN resample (e.g. a silent layer) gives a NaN interval
            warnings.simplefilter("ignore", RuntimeWarning)
            res = bootstrap(
                (np.arange(n),), lambda idx, axis=-1: statistic(idx), vectorized=True, n_resamples=n_resamples,
                batch=BATCH, method=method, confidence_level=CONFIDENCE, rng=np.random.default_rng(seed),
            )
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return (lo, hi) if np.isfinite(lo) and np.isfinite(hi) else (float("nan"), float("nan"))


def difference_ci(
    first: Statistic, second: Statistic, n: int, n_resamples: int = 1000, seed: int = 0, method: str = "percentile"
) -> tuple[float, float]:
    """Paired bootstrap interval of ``first − second`` (both on the same resampled samples)."""
    return bootstrap_ci(lambda idx: first(idx) - second(idx), n, n_resamples, seed, method)


def significant(ci: tuple[float, float]) -> bool:
    """A difference is significant at the 5 % level when its 95 % interval excludes 0."""
    lo, hi = ci
    return bool(np.isfinite(lo) and np.isfinite(hi) and (lo > 0 or hi < 0))


# ---------------------------------------------------------------- statistics of two models


def cka_statistic(a: np.ndarray, b: np.ndarray) -> Statistic:
    """Linear CKA of two models' latents on the resampled samples."""
    return of_counts(lambda w: M.weighted_cka(a, b, w), len(a))


class MatchedPairs:
    """Two models' matched neurons of one layer (Hungarian matching on all samples, each layer
    scaled by its own maximum), ready for resampled correlations and distances."""

    def __init__(self, a: np.ndarray, b: np.ndarray):
        d = M.matched_distribution_distances(a, b, normalize=True)
        self.summary = d
        self.a = M._scale_to_unit(np.asarray(a, dtype=np.float64))[:, d["index_a"]]
        self.b = M._scale_to_unit(np.asarray(b, dtype=np.float64))[:, d["index_b"]]
        self.active = (np.abs(self.a).max(0) > 0) & (np.abs(self.b).max(0) > 0)
        self.grid = M.PooledGrid(self.a, self.b)
        self.n = len(self.a)

    def correlation(self, active_only: bool = False) -> Statistic:
        cols = self.active if active_only else slice(None)

        def f(w: np.ndarray) -> np.ndarray:
            r = M.weighted_correlation(self.a[:, cols], self.b[:, cols], w)
            return r.mean(1) if r.shape[1] else np.full(len(w), np.nan)

        return of_counts(f, self.n)

    def distance(self, which: str) -> Statistic:
        """Mean Wasserstein-1 ("wasserstein") or KS ("ks") distance over the pairs."""
        k = 0 if which == "wasserstein" else 1
        return of_counts(lambda w: self.grid.distances(w)[k], self.n)

    def permutation_pvalues(self, n_resamples: int = 1000, seed: int = 0) -> dict[str, float]:
        """Paired permutation test of "the two models' matched neurons have different activity
        distributions": under the null a sample's two latents are exchangeable, so each
        permutation swaps A's and B's values of a random subset of samples (the same subset for
        every pair, keeping each model's joint structure). One-sided: p = (1 + #{mean distance of
        a permutation ≥ observed}) / (1 + n_resamples)."""
        from scipy.stats import permutation_test

        if n_resamples < 1:
            return {"wasserstein_mean": float("nan"), "ks_mean": float("nan")}
        out = {}
        for k, name in enumerate(("wasserstein", "ks")):
            def stat(x, y, axis=-1, k=k):
                return _squeeze(self.grid.distances(np.atleast_2d(x))[k], x)

            res = permutation_test(
                (np.ones(self.n), -np.ones(self.n)), stat, permutation_type="samples", vectorized=True,
                n_resamples=n_resamples, batch=BATCH, alternative="greater", rng=np.random.default_rng(seed),
            )
            out[f"{name}_mean"] = float(res.pvalue)
        return out


def cka_permutation_pvalue(a: np.ndarray, b: np.ndarray, n_resamples: int = 1000, seed: int = 0) -> float:
    """Permutation test of "CKA(A, B) exceeds that of unrelated representations": the null
    shuffles which sample each row of B belongs to. One-sided, p = (1 + #{CKA ≥ observed}) /
    (1 + n_resamples)."""
    from scipy.stats import permutation_test

    a = np.asarray(a, dtype=np.float64) - np.mean(a, 0)
    b = np.asarray(b, dtype=np.float64) - np.mean(b, 0)
    denom = np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b)
    if denom == 0 or n_resamples < 1:
        return float("nan")

    def stat(perm, axis=-1):
        rows = np.atleast_2d(perm)
        out = np.array([np.linalg.norm(b[p].T @ a) ** 2 / denom for p in rows])
        return _squeeze(out, perm)

    res = permutation_test((np.arange(len(a)),), stat, permutation_type="pairings", vectorized=True,
                           n_resamples=n_resamples, batch=BATCH, alternative="greater", rng=np.random.default_rng(seed))
    return float(res.pvalue)
