"""Spike encoders (neuroff.core.encoding) and label pairing (neuroff.data.pairing): spike statistics,
spike timing, shapes, seeding, label codes and wrong-label draws."""

from __future__ import annotations

import math

import pytest
import torch

from neuroff.data.pairing import make_label_embedding, wrong_labels
from neuroff.core.encoding import (
    direct_encode,
    encode,
    encode_candidates,
    latency_encode,
    latency_times,
    rate_encode,
    varying_features,
)
from neuroff.core.params import EncoderParams
from neuroff.errors import NeuroffError

# ---------------------------------------------------------------- rate code


@pytest.mark.parametrize("max_rate", [1.0, 0.25])
def test_rate_mean_matches_max_rate_times_x(max_rate: float) -> None:
    x = torch.linspace(0, 1, 11)
    steps, copies = 400, 50
    spikes = rate_encode(x.expand(copies, -1), steps, max_rate, torch.Generator().manual_seed(1))
    assert spikes.shape == (steps, copies, 11)
    n = steps * copies
    rate = spikes.mean(dim=(0, 1))
    p = max_rate * x
    # 5 binomial standard deviations (the 1e-9 covers p = 0 and p = 1, which must be exact)
    tol = 5 * torch.sqrt(p * (1 - p) / n) + 1e-9
    assert torch.all((rate - p).abs() <= tol), (rate, p, tol)
    assert rate[0] == 0  # x = 0 never fires
    if max_rate == 1.0:
        assert rate[-1] == 1  # p = 1 always fires


def test_rate_is_binary_and_clamps_inputs() -> None:
    x = torch.tensor([-0.5, 0.3, 1.7])
    spikes = rate_encode(x, 1000, 1.0, torch.Generator().manual_seed(0))
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    assert spikes.dtype == torch.float32
    assert spikes[:, 0].sum() == 0 and spikes[:, 2].sum() == 1000


def test_rate_shape_keeps_leading_dims() -> None:
    x = torch.rand(3, 5, 7)
    assert rate_encode(x, 9, 0.5, torch.Generator().manual_seed(0)).shape == (9, 3, 5, 7)


def test_rate_same_seed_same_spikes_other_seed_other_spikes() -> None:
    x = torch.rand(8, 64, generator=torch.Generator().manual_seed(3))
    a = rate_encode(x, 23, 0.5, torch.Generator().manual_seed(11))
    b = rate_encode(x, 23, 0.5, torch.Generator().manual_seed(11))
    c = rate_encode(x, 23, 0.5, torch.Generator().manual_seed(12))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("kwargs", [dict(steps=0), dict(max_rate=0.0), dict(max_rate=1.5)])
def test_rate_bad_params_raise(kwargs: dict) -> None:
    args = dict(steps=10, max_rate=0.5) | kwargs
    with pytest.raises(NeuroffError):
        rate_encode(torch.rand(4), args["steps"], args["max_rate"])


# ---------------------------------------------------------------- latency code


def test_latency_linear_timing() -> None:
    steps = 10
    x = torch.tensor([1.0, 0.5, 0.0, 0.005, 0.01, 0.2])
    t = latency_times(x, steps, "linear")
    # t(x) = (T - 1)(1 - x), rounded; x <= threshold (0.01) never fires (time = steps)
    assert t.tolist() == [0, round(4.5), steps, steps, steps, round(9 * 0.8)]


@pytest.mark.parametrize("mode", ["linear", "log"])
@pytest.mark.parametrize("normalize", [False, True])
def test_latency_monotone_one_spike_at_most(mode: str, normalize: bool) -> None:
    steps = 25
    x = torch.linspace(0, 1, 201)
    spikes = latency_encode(x, steps, mode, normalize=normalize)
    assert spikes.shape == (steps, 201)
    per_input = spikes.sum(0)
    assert torch.all(per_input <= 1)
    fires = x > 0.01
    assert torch.all(per_input[fires] == 1)
    assert torch.all(per_input[~fires] == 0)
    first = spikes.argmax(0)[fires]
    # larger intensity -> earlier (or equal, after rounding) spike; x = 1 fires at t = 0
    assert torch.all(first[1:] <= first[:-1])
    assert first[-1] == 0
    assert first[0] > first[-1]


def test_latency_linear_normalize_spans_the_window() -> None:
    steps = 16
    x = torch.tensor([1.0, 0.01 + 1e-6, 0.5])
    t = latency_times(x, steps, "linear", normalize=True)
    assert t[0] == 0 and t[1] == steps - 1
    assert 0 < t[2] < steps - 1
    # normalising stretches the firing inputs over the window: never earlier than unnormalised
    x = torch.linspace(0.02, 1, 50)
    assert torch.all(latency_times(x, steps, "linear", normalize=True) >= latency_times(x, steps, "linear"))


def test_latency_log_normalize_spans_the_window() -> None:
    steps = 20
    x = torch.tensor([1.0, 0.01 + 1e-3])
    t = latency_times(x, steps, "log", normalize=True)
    assert t.tolist() == [0, steps - 1]
    # unnormalised log times are tau * ln(x / (x - threshold))
    x = [0.011, 0.02, 0.04, 0.3]
    raw = latency_times(torch.tensor(x), 100, "log", tau=5.0)
    assert raw.tolist() == [round(5.0 * math.log(v / (v - 0.01))) for v in x] == [12, 3, 1, 0]


def test_latency_keeps_leading_dims_and_bad_mode_raises() -> None:
    assert latency_encode(torch.rand(2, 3, 4), 7).shape == (7, 2, 3, 4)
    with pytest.raises(NeuroffError):
        latency_encode(torch.rand(4), 7, "cubic")
    with pytest.raises(NeuroffError):
        latency_encode(torch.rand(4), 0)


def test_direct_is_the_clamped_intensity_every_step() -> None:
    x = torch.tensor([[-0.5, 0.0, 0.3, 1.0, 2.0]])
    out = direct_encode(x, 4)
    assert out.shape == (4, 1, 5) and out.dtype == torch.float32
    assert all(torch.equal(out[t], torch.tensor([[0.0, 0.0, 0.3, 1.0, 1.0]])) for t in range(4))
    # the rate code's expectation at max rate 1, without its draws
    rate_mean = rate_encode(x.clamp(0, 1).repeat(4000, 1), 4, 1.0, torch.Generator().manual_seed(0)).mean((0, 1))
    assert torch.allclose(rate_mean, out[0, 0], atol=0.02)
    with pytest.raises(NeuroffError):
        direct_encode(x, 0)


def test_encode_dispatch() -> None:
    x = torch.rand(4, 10, generator=torch.Generator().manual_seed(0))
    a = encode(x, EncoderParams("rate", 12, 0.3), torch.Generator().manual_seed(2))
    assert torch.equal(a, rate_encode(x, 12, 0.3, torch.Generator().manual_seed(2)))
    b = encode(x, EncoderParams("latency", 12, latency_mode="log", normalize=True))
    assert torch.equal(b, latency_encode(x, 12, "log", normalize=True))
    assert torch.equal(encode(x, EncoderParams("direct", 12)), direct_encode(x, 12))
    with pytest.raises(NeuroffError, match="unknown encoder"):
        encode(x, EncoderParams("delta", 12))


# ---------------------------------------------------------------- candidate inputs (inference)


def _candidates(s: int = 5, c: int = 4, d: int = 30, label_cols: int = 6) -> torch.Tensor:
    """S samples x C candidates that share an image and differ on the last ``label_cols`` features."""
    g = torch.Generator().manual_seed(3)
    x_all = torch.rand(s, 1, d, generator=g).repeat(1, c, 1)
    x_all[:, :, d - label_cols :] = torch.rand(s, c, label_cols, generator=g)
    return x_all


@pytest.mark.parametrize(
    "encoder,kwargs",
    [("rate", {"max_rate": 0.6}), ("rate", {}), ("latency", {}), ("latency", {"latency_mode": "log", "normalize": True}), ("direct", {})],
)
def test_encode_candidates_is_the_full_raster_restricted(encoder: str, kwargs: dict) -> None:
    x_all = _candidates()
    s, c, d = x_all.shape
    varying = varying_features(x_all)
    assert varying.tolist() == list(range(d - 6, d))
    params = EncoderParams(encoder, 9, **kwargs)
    full = encode(x_all, params, torch.Generator().manual_seed(7), noise_shape=(s, 1, d))
    first, cand, _ = encode_candidates(x_all, varying, params, torch.Generator().manual_seed(7))
    assert first.shape == (9, s, d) and cand.shape == (9, s, c, 6)
    assert torch.equal(first, full[:, :, 0])
    assert torch.equal(cand, full[..., varying])
    if encoder == "rate":  # the shared image spikes really are shared
        assert torch.equal(full[:, :, 1, : d - 6], full[:, :, 0, : d - 6])


@pytest.mark.parametrize("encoder", ["rate", "direct"])
def test_spiking_candidate_scores_equal_presenting_every_candidate(encoder: str) -> None:
    from neuroff.engine.options import FFConfig
    from neuroff.core.goodness import layers_score
    from neuroff.layers.lif_stack import SpikingFFNet

    cfg = FFConfig(layers=[20, 10], steps=12, learn_start=6, init_scale=6.0, max_rate=0.8, encoder=encoder).validate()
    model = SpikingFFNet(cfg, 30, torch.Generator().manual_seed(1))
    x_all = _candidates()
    s, c, d = x_all.shape
    ours = model.candidate_scores(x_all, torch.Generator().manual_seed(5))
    spikes = model.encode(x_all, torch.Generator().manual_seed(5), noise_shape=(s, 1, d)).reshape(12, s * c, d)
    out = model.present(spikes)
    assert sum(int(n.sum()) for n in out.counts) > 20  # the network is active
    ref = layers_score(out.p_window, cfg.score_layers).reshape(s, c)
    assert torch.allclose(ours, ref, atol=1e-5)


# ---------------------------------------------------------------- label embedding and pairing


def test_random_code_shape_density_and_distinct() -> None:
    c, bits = 10, 100
    emb = make_label_embedding("code", c, bits, 0.3, seed=0)
    assert emb.codes.shape == (c, bits)
    assert emb.extra_features == bits
    assert set(emb.codes.unique().tolist()) == {0.0, 1.0}
    frac = float(emb.codes.mean())
    assert abs(frac - 0.3) < 5 * math.sqrt(0.3 * 0.7 / (c * bits))
    assert len({tuple(row.tolist()) for row in emb.codes}) == c
    # seeded: same seed same codes, another seed other codes
    assert torch.equal(emb.codes, make_label_embedding("code", c, bits, 0.3, seed=0).codes)
    assert not torch.equal(emb.codes, make_label_embedding("code", c, bits, 0.3, seed=1).codes)


def test_code_embed_and_embed_all() -> None:
    emb = make_label_embedding("code", 4, 12, 0.3, seed=3)
    x = torch.rand(5, 7)
    y = torch.tensor([0, 3, 1, 1, 2])
    e = emb.embed(x, y)
    assert e.shape == (5, 7 + 12)
    assert torch.equal(e[:, :7], x)
    assert torch.equal(e[:, 7:], emb.codes[y])
    all_ = emb.embed_all(x)
    assert all_.shape == (5, 4, 19)
    for c in range(4):
        assert torch.equal(all_[:, c, :7], x)
        assert torch.equal(all_[:, c, 7:], emb.codes[c].expand(5, -1))
        assert torch.equal(all_[:, c], emb.embed(x, torch.full((5,), c)))


def test_onehot_overlay() -> None:
    emb = make_label_embedding("onehot", 3, seed=0)
    assert emb.extra_features == 0
    x = torch.rand(4, 6)
    x_before = x.clone()
    y = torch.tensor([2, 0, 1, 2])
    e = emb.embed(x, y)
    assert e.shape == x.shape
    assert torch.equal(e[:, :3], torch.eye(3)[y])
    assert torch.equal(e[:, 3:], x[:, 3:])
    assert torch.equal(x, x_before)  # the input is not modified in place
    all_ = emb.embed_all(x)
    assert all_.shape == (4, 3, 6)
    assert torch.equal(all_[:, :, :3], torch.eye(3).expand(4, -1, -1))


def test_unknown_embedding_raises() -> None:
    with pytest.raises(NeuroffError, match="unknown label embedding"):
        make_label_embedding("gray", 10)


def test_wrong_labels_never_true_and_uniform() -> None:
    c, per_class = 10, 2000
    labels = torch.arange(c).repeat_interleave(per_class)
    wrong = wrong_labels(labels, c, torch.Generator().manual_seed(0))
    assert wrong.shape == labels.shape
    assert torch.all(wrong != labels)
    assert torch.all((wrong >= 0) & (wrong < c))
    counts = torch.zeros(c, c)
    counts.index_put_((labels, wrong), torch.ones(len(labels)), accumulate=True)
    expected = per_class / (c - 1)
    std = math.sqrt(per_class * (1 / (c - 1)) * (1 - 1 / (c - 1)))
    off = ~torch.eye(c, dtype=torch.bool)
    assert torch.all(counts.diagonal() == 0)
    assert torch.all((counts[off] - expected).abs() < 5 * std), counts


def test_wrong_labels_seeded() -> None:
    labels = torch.randint(0, 10, (100,), generator=torch.Generator().manual_seed(0))
    a = wrong_labels(labels, 10, torch.Generator().manual_seed(4))
    b = wrong_labels(labels, 10, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
