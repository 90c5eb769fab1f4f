"""Latent metrics on constructed data with known answers."""

import numpy as np
import pytest
import torch

from neuroff.engine.readout import linear_probe
from neuroff.errors import NeuroffError
from neuroff.latents import metrics as M


def clusters(n_per: int = 40, n_classes: int = 4, dim: int = 6, spread: float = 0.05, seed: int = 0):
    """Tight clusters at the corners of a simplex: trivially separable."""
    rng = np.random.default_rng(seed)
    centres = np.eye(n_classes, dim) * 10
    y = np.repeat(np.arange(n_classes), n_per)
    z = centres[y] + rng.normal(0, spread, (len(y), dim))
    return z, y


def test_hoyer_one_hot_is_one_and_constant_is_zero():
    one_hot = np.eye(8)[[0, 3, 5, 7]] * 4.0
    assert M.hoyer(one_hot) == pytest.approx(1.0)
    assert M.hoyer(np.ones((5, 8))) == pytest.approx(0.0)
    # two equal active neurons of n = 4: (2 - 2/sqrt(2)) / (2 - 1)
    assert M.hoyer(np.array([[1.0, 1.0, 0, 0]])) == pytest.approx(2 - np.sqrt(2))


def test_hoyer_ignores_silent_samples_and_is_nan_when_all_silent():
    z = np.vstack([np.eye(4)[:2], np.zeros((3, 4))])
    per = M.hoyer_per_sample(z)
    assert np.isnan(per[2:]).all() and M.hoyer(z) == pytest.approx(1.0)
    assert np.isnan(M.hoyer(np.zeros((3, 4))))


def test_silent_active_fractions():
    z = np.zeros((4, 5))
    z[0, 1] = 2.0
    z[2, 3] = 1.0
    assert M.silent_fraction(z) == pytest.approx(3 / 5)
    assert M.active_fraction(z) == pytest.approx(2 / 20)


def test_population_and_lifetime_sparsity_extremes():
    one_hot = np.eye(6)  # each sample one neuron; each neuron one sample
    assert M.population_sparsity(one_hot) == pytest.approx(1.0)
    assert M.lifetime_sparsity(one_hot) == pytest.approx(1.0)
    dense = np.full((6, 6), 3.0)
    assert M.population_sparsity(dense) == pytest.approx(0.0)
    assert M.lifetime_sparsity(dense) == pytest.approx(0.0)
    # neurons constant across samples but samples one-hot within a single always-on neuron
    z = np.zeros((5, 4))
    z[:, 2] = 1.0
    assert M.population_sparsity(z) == pytest.approx(1.0)
    assert M.lifetime_sparsity(z) == pytest.approx(0.0)  # the only active neuron fires for everything


def test_knn_and_silhouette_on_separated_clusters():
    z, y = clusters()
    assert M.knn_agreement(z, y, k=5) == 1.0
    assert M.silhouette(z, y) > 0.95


def test_knn_on_random_labels_is_chance():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(2000, 5))
    y = rng.integers(0, 4, 2000)
    assert M.knn_agreement(z, y) == pytest.approx(0.25, abs=0.03)


def test_knn_excludes_self_even_for_duplicates():
    # two identical points per class: each point's single neighbour is its twin
    z = np.repeat(np.array([[0.0], [10.0], [20.0]]), 2, axis=0)
    y = np.array([0, 0, 1, 1, 2, 2])
    assert M.knn_agreement(z, y, k=1) == 1.0
    assert M.knn_agreement(z, y, k=2) == pytest.approx(0.5)


def test_linear_probe_separable_and_torch_inputs():
    z, y = clusters(seed=2)
    zt, yt = clusters(seed=3)
    assert linear_probe(torch.tensor(z), torch.tensor(y), zt, yt, seed=0) == 1.0
    rng = np.random.default_rng(0)
    noise = linear_probe(rng.normal(size=(400, 5)), rng.integers(0, 4, 400), rng.normal(size=(400, 5)), rng.integers(0, 4, 400))
    assert noise < 0.4


def test_linear_probe_rejects_bad_input():
    z, y = clusters()
    with pytest.raises(NeuroffError, match="features"):
        linear_probe(z, y, z[:, :3], y)
    with pytest.raises(NeuroffError, match="two classes"):
        linear_probe(z, np.zeros(len(z)), z, y)
    with pytest.raises(NeuroffError, match="vector"):
        linear_probe(z, y[:5], z, y)


def test_cka_identity_rotation_and_scale_invariance():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(200, 10))
    q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    assert M.linear_cka(a, a) == pytest.approx(1.0)
    assert M.linear_cka(a, 3.0 * a @ q + 5.0) == pytest.approx(1.0)
    assert M.linear_cka(a, a[:, rng.permutation(10)]) == pytest.approx(1.0)
    assert M.linear_cka(a, rng.normal(size=(200, 10))) < 0.15
    assert np.isnan(M.linear_cka(a, np.ones((200, 3))))


def test_hungarian_matching_recovers_a_permutation():
    rng = np.random.default_rng(0)
    a = rng.exponential(size=(500, 12))
    perm = rng.permutation(12)
    b = a[:, perm]  # neuron j of b is neuron perm[j] of a
    rows, cols, corr = M.match_neurons(a, b)
    assert np.array_equal(perm[cols], rows)
    assert corr == pytest.approx(np.ones(12))
    d = M.matched_distribution_distances(a, b)
    assert d["wasserstein"] == pytest.approx(np.zeros(12), abs=1e-12)
    assert d["ks"] == pytest.approx(np.zeros(12), abs=1e-12)


def test_matched_distances_see_a_changed_distribution():
    rng = np.random.default_rng(0)
    a = rng.exponential(size=(1000, 6))
    b = np.sqrt(a) * a.max() / np.sqrt(a).max()  # same order of samples, another shape
    d = M.matched_distribution_distances(a, b)
    assert np.array_equal(d["index_a"], d["index_b"])  # monotone transform keeps the matching
    assert (d["ks"] > 0.1).all() and (d["wasserstein"] > 0.01).all()
    unmatched = M.neuron_correlation(a, np.zeros((1000, 3)))
    assert unmatched.shape == (6, 3) and (unmatched == 0).all()


def test_class_statistics():
    z = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    y = np.array([0, 0, 2])
    means = M.class_mean_activity(z, y, 3)
    assert means[0] == pytest.approx([2.0, 0.0]) and np.isnan(means[1]).all() and means[2] == pytest.approx([0.0, 4.0])
    dist = M.class_centroid_distances(z, y, 3)
    assert dist[0, 2] == pytest.approx(np.hypot(2.0, 4.0)) and dist[0, 0] == 0.0
    with pytest.raises(NeuroffError, match="labels"):
        M.class_mean_activity(z, np.array([0, 1, 5]), 3)


def test_metrics_reject_bad_shapes():
    with pytest.raises(NeuroffError, match="2-D"):
        M.hoyer(np.ones(5))
    with pytest.raises(NeuroffError, match="same samples"):
        M.linear_cka(np.ones((4, 2)), np.ones((5, 2)))
    with pytest.raises(NeuroffError, match="more than"):
        M.knn_agreement(np.ones((3, 2)), np.array([0, 1, 0]), k=5)


def test_adam_probe_agrees_with_logreg_and_is_seeded():
    """The dropout/Adam solver reads separable clusters perfectly, chance on noise, gives the same
    number twice for one seed, and rejects unknown solvers."""
    z, y = clusters(seed=2)
    zt, yt = clusters(seed=3)
    assert linear_probe(z, y, zt, yt, solver="adam", epochs=200) == 1.0
    rng = np.random.default_rng(0)
    a, ya, b, yb = rng.normal(size=(400, 5)), rng.integers(0, 4, 400), rng.normal(size=(400, 5)), rng.integers(0, 4, 400)
    assert linear_probe(a, ya, b, yb, solver="adam") < 0.4
    x = rng.normal(size=(300, 6))
    yx = (x[:, 0] + 0.5 * rng.normal(size=300) > 0).astype(int)
    first = linear_probe(x, yx, x, yx, solver="adam", seed=4, epochs=5)
    assert first == linear_probe(x, yx, x, yx, solver="adam", seed=4, epochs=5)
    with pytest.raises(NeuroffError, match="unknown probe"):
        linear_probe(z, y, zt, yt, solver="svm")


# ---------------------------------------------------------------- resampled statistics (neuroff.latents.stats)


def test_weighted_statistics_equal_the_plain_ones_on_the_resampled_rows():
    from scipy.stats import ks_2samp, wasserstein_distance

    from neuroff.latents import stats as S

    rng = np.random.default_rng(0)
    a = rng.poisson(1.0, (200, 12)).astype(float)  # ties, like spike counts
    b = rng.exponential(size=(200, 12))
    a[:, 3] = b[:, 3] = 0.0  # a silent pair
    idx = rng.integers(0, 200, (3, 200))
    w = S.counts(idx, 200)
    assert (w.sum(1) == 200).all()
    np.testing.assert_allclose(M.weighted_cka(a, b, np.ones((1, 200))), [M.linear_cka(a, b)], rtol=1e-10)
    np.testing.assert_allclose(M.weighted_cka(a, b, w), [M.linear_cka(a[i], b[i]) for i in idx], rtol=1e-8)
    silent, life = M.weighted_neuron_statistics(a, w)
    np.testing.assert_allclose(silent, [M.silent_fraction(a[i]) for i in idx])
    np.testing.assert_allclose(life, [M.lifetime_sparsity(a[i]) for i in idx], rtol=1e-10)
    r = M.weighted_correlation(a, b, w)
    assert r[0, 0] == pytest.approx(np.corrcoef(a[idx[0], 0], b[idx[0], 0])[0, 1]) and (r[:, 3] == 0).all()
    grid = M.PooledGrid(a, b)
    signs = np.where(rng.random(200) < 0.5, 1.0, -1.0)
    swapped_a = np.where(signs[:, None] > 0, a, b)
    swapped_b = np.where(signs[:, None] > 0, b, a)
    for u, xa, xb in ((np.ones(200), a, b), (w[0], a[idx[0]], b[idx[0]]), (signs, swapped_a, swapped_b)):
        w1, ks = grid.distances(u[None])
        assert w1[0] == pytest.approx(np.mean([wasserstein_distance(xa[:, j], xb[:, j]) for j in range(12)]))
        assert ks[0] == pytest.approx(np.mean([ks_2samp(xa[:, j], xb[:, j]).statistic for j in range(12)]))


def test_bootstrap_interval_covers_a_known_mean_and_narrows_with_n():
    from neuroff.latents import stats as S

    rng = np.random.default_rng(1)
    x = rng.normal(0.3, 1.0, 400)
    lo, hi = S.bootstrap_ci(S.of_mean(x), 400, 1000, seed=0)
    assert lo < 0.3 < hi and lo < x.mean() < hi
    assert hi - lo == pytest.approx(2 * 1.96 / np.sqrt(400), rel=0.2)  # the normal-theory width
    assert S.bootstrap_ci(S.of_mean(x), 400, 1000, seed=0) == (lo, hi)  # seeded
    lo4, hi4 = S.bootstrap_ci(S.of_mean(np.tile(x, 4)), 1600, 1000, seed=0)
    assert hi4 - lo4 < 0.6 * (hi - lo)
    d = S.difference_ci(S.of_mean(x + 0.5), S.of_mean(x), 400, 200)
    assert d == pytest.approx((0.5, 0.5)) and S.significant(d) and not S.significant((-0.1, 0.2))
    assert all(np.isnan(S.bootstrap_ci(S.of_mean(x), 400, 0)))


def test_permutation_tests_tell_equal_from_different_distributions():
    from neuroff.latents import stats as S

    rng = np.random.default_rng(2)
    a = rng.exponential(size=(300, 8))
    same = S.MatchedPairs(a, a[:, ::-1] * 1.0)  # the same neurons, permuted: matched back, distances 0
    assert same.summary["wasserstein"] == pytest.approx(np.zeros(8), abs=1e-12)
    assert same.permutation_pvalues(200)["wasserstein_mean"] == 1.0
    # spike-count-like values of one distribution on unrelated samples (the same maximum, so the
    # layer-max scaling leaves them alike): no evidence of a difference
    counts = rng.integers(0, 6, (300, 8)).astype(float)
    other = S.MatchedPairs(counts, rng.integers(0, 6, (300, 8)).astype(float))
    assert min(other.permutation_pvalues(200).values()) > 0.05
    shifted = S.MatchedPairs(a, np.sqrt(a))  # another distribution shape
    p = shifted.permutation_pvalues(200)
    assert p["wasserstein_mean"] == pytest.approx(1 / 201) and p["ks_mean"] == pytest.approx(1 / 201)
    lo, hi = S.bootstrap_ci(shifted.distance("wasserstein"), 300, 200)
    assert lo <= float(shifted.summary["wasserstein"].mean()) <= hi
    assert S.cka_permutation_pvalue(a, a @ rng.normal(size=(8, 5)), 200) == pytest.approx(1 / 201)
    assert S.cka_permutation_pvalue(a, rng.normal(size=(300, 5)), 200) > 0.05
