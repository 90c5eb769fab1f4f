"""The fused numba online trainer (neuroff.families.ff.online_kernel) against the torch reference
(``SpikingFFNet.present`` run with batch size 1): same spike trains in, same weights,
eligibility traces and pair decisions out, for every option the kernel implements."""

from __future__ import annotations

import pytest
import torch

from neuroff.engine.options import FFConfig
from neuroff.layers.lif_stack import SpikingFFNet
from neuroff.families.ff.spiking_rule import NeoHebbianRule

N_INPUTS, N_SAMPLES, TOL = 30, 20, 1e-9

# (name, config overrides): the base case, then one option changed at a time, then mixes
CASES = [
    ("base-sym", {}),
    ("sigma", dict(head="sigma")),
    ("subtract", dict(reset="subtract")),
    ("count", dict(trace="count", lr=0.005)),
    ("hard-leaky", dict(trace="hard-leaky")),
    ("refractory2", dict(refractory=2)),
    ("tau1-memoryless", dict(eligibility_tau=1.0)),
    ("nu0.5", dict(eligibility_nu=0.5)),
    ("sigma-subtract-count-refr", dict(head="sigma", reset="subtract", trace="count", refractory=2, lr=0.005)),
    ("sigma-hard-leaky-tau1", dict(head="sigma", trace="hard-leaky", eligibility_tau=1.0)),
    ("subtract-refr-tau1", dict(reset="subtract", refractory=2, eligibility_tau=1.0)),
    ("pre-trace", dict(pre_trace="leaky")),
    ("pre-trace-tau1", dict(pre_trace="leaky", pre_trace_decay=0.5, eligibility_tau=1.0)),
    ("pre-trace-sigma-count", dict(pre_trace="leaky", head="sigma", trace="count", lr=0.005)),
    ("homeostasis", dict(homeostasis_rate=0.01, homeostasis_target=0.5, homeostasis_tau=0.1)),
    ("homeostasis-pre-trace-tau1", dict(homeostasis_rate=0.01, homeostasis_target=0.5, homeostasis_tau=0.1, pre_trace="leaky", eligibility_tau=1.0)),
    ("homeostasis-sigma", dict(homeostasis_rate=0.01, homeostasis_target=0.5, homeostasis_tau=0.1, head="sigma")),
    ("latency-pre-trace", dict(encoder="latency", pre_trace="leaky", learn_start=5, threshold=1.0, beta=0.85, lr=0.02)),
    ("direct", dict(encoder="direct", lr=0.02)),
    ("direct-pre-trace-tau1", dict(encoder="direct", pre_trace="leaky", pre_trace_decay=0.5, eligibility_tau=1.0, lr=0.02)),
    ("direct-homeostasis-sigma", dict(encoder="direct", head="sigma", homeostasis_rate=0.01, homeostasis_target=0.5, homeostasis_tau=0.1)),
    ("latency-log-normalised-pre-trace", dict(encoder="latency", latency_mode="log", normalize_latency=True, pre_trace="leaky", learn_start=5, threshold=1.0, beta=0.85, lr=0.02)),
]


def _stream(n: int = N_SAMPLES, seed: int = 42) -> torch.Tensor:
    """Presentations [2n, D] in the engine's order pos_0, neg_0, pos_1, ..."""
    g = torch.Generator().manual_seed(seed)
    x_pos, x_neg = torch.rand((n, N_INPUTS), generator=g), torch.rand((n, N_INPUTS), generator=g)
    return torch.stack([x_pos, x_neg], 1).reshape(2 * n, N_INPUTS)


def _model(config: FFConfig) -> SpikingFFNet:
    return SpikingFFNet(config, N_INPUTS, torch.Generator().manual_seed(0))


def _pairs_correct(p_last: torch.Tensor) -> float:
    return float((p_last[0::2] > p_last[1::2]).sum())


def _assert_same_layers(a: SpikingFFNet, b: SpikingFFNet, what: str) -> None:
    for wa, wb, ea, eb in zip(a.weights, b.weights, a.eligibilities, b.eligibilities):
        torch.testing.assert_close(wa, wb, rtol=0, atol=TOL, msg=lambda m: f"W, {what}: {m}")
        torch.testing.assert_close(ea, eb, rtol=0, atol=TOL, msg=lambda m: f"E, {what}: {m}")


CONFIGS = [(name, [40, 20], o) for name, o in CASES] + [("base-sym-1layer", [40], {})]


@pytest.mark.parametrize("layers,overrides", [c[1:] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
def test_kernel_equals_torch_reference(overrides: dict, layers: list[int]) -> None:
    config = FFConfig(**(dict(layers=layers, lr=0.05, init_scale=3.0, max_rate=0.5) | overrides)).validate()
    xs = _stream()
    # the kernel draws the rate-coded spikes itself; it records them for the reference
    kernel, rule = _model(config), NeoHebbianRule(1, sparse=True)
    p_kernel = rule.online(kernel, xs, torch.Generator().manual_seed(1), record=True)
    spikes = rule.last_spikes
    assert spikes.shape == (config.steps, 2 * N_SAMPLES, N_INPUTS) and spikes.sum() > 0

    ref = _model(config)
    init = [w.clone() for w in ref.weights]
    ref_rule = NeoHebbianRule(1)
    r_stats = ref_rule.reference(ref, spikes)
    for i, (wr, w0) in enumerate(zip(ref.weights, init)):
        # the stream really trains every layer, so the agreement below is not vacuous
        assert float((wr - w0).abs().max()) > 1e-3, f"layer {i} did not learn"
    assert _pairs_correct(p_kernel) == r_stats.correct
    _assert_same_layers(kernel, ref, "sparse kernel")
    for a_kernel, a_ref in zip(rule.activity, ref_rule.activity):
        torch.testing.assert_close(a_kernel, a_ref, rtol=0, atol=TOL)  # homeostasis' running activities
    if config.homeostasis_rate > 0:
        assert len(rule.activity) == len(ref_rule.activity) == len(layers)
        assert all(float((a - config.homeostasis_target).abs().max()) > 1e-3 for a in rule.activity)

    # the dense kernel path, fed the same spike trains
    dense = _model(config)
    given = None if config.encoder == "direct" else spikes  # the direct input is xs itself
    p_dense = NeoHebbianRule(1, sparse=False).online(dense, xs, torch.Generator().manual_seed(1), spikes=given)
    assert _pairs_correct(p_dense) == r_stats.correct
    _assert_same_layers(dense, ref, "dense kernel")


def test_kernel_rate_draws_are_bernoulli_and_seeded() -> None:
    """The kernel's own Bernoulli draws fire each input with probability max_rate * x."""
    config = FFConfig(layers=[40], max_rate=0.5).validate()
    xs = torch.linspace(0, 1, N_INPUTS).expand(60, -1).contiguous()
    rule = NeoHebbianRule(1)
    rule.online(_model(config), xs, torch.Generator().manual_seed(3), record=True)
    first = rule.last_spikes
    n = first.shape[0] * first.shape[1]
    p = 0.5 * xs[0].double()
    rate = first.double().mean(dim=(0, 1))
    assert torch.all((rate - p).abs() <= 5 * torch.sqrt(p * (1 - p) / n) + 1e-9)
    assert rate[0] == 0
    rule.online(_model(config), xs, torch.Generator().manual_seed(3), record=True)
    assert torch.equal(rule.last_spikes, first)
    rule.online(_model(config), xs, torch.Generator().manual_seed(4), record=True)
    assert not torch.equal(rule.last_spikes, first)


def test_kernel_continues_across_chunks() -> None:
    """Two chunks through the kernel (weights and eligibility carried over) equal two chunks
    through the reference: the lazily-scaled eligibility is folded back exactly between calls."""
    config = FFConfig(layers=[40, 20], lr=0.05, init_scale=3.0, max_rate=0.5).validate()
    kernel, ref, rule = _model(config), _model(config), NeoHebbianRule(1)
    g = torch.Generator().manual_seed(9)
    for chunk in range(2):
        rule.online(kernel, _stream(N_SAMPLES // 2, seed=chunk), g, record=True)
        rule.reference(ref, rule.last_spikes)
    _assert_same_layers(kernel, ref, "two chunks")
    assert all(float(e.abs().max()) > 0 for e in kernel.eligibilities)


def test_layer_input_rasters_and_op_count_floor() -> None:
    """Recording every layer's presynaptic rasters changes nothing in training; layer 0's raster is
    the input spikes; the op-count floor (active-row sums only) sums exactly those rows."""
    import numpy as np

    from neuroff.families.ff import online_kernel

    config = FFConfig(layers=[40, 20], lr=0.05, init_scale=3.0, max_rate=0.5).validate()
    xs = _stream()
    plain, rule = _model(config), NeoHebbianRule(1)
    rule.online(plain, xs, torch.Generator().manual_seed(1))
    kept, rec = _model(config), NeoHebbianRule(1)
    rec.online(kept, xs, torch.Generator().manual_seed(1), record=True, record_layer_inputs=True)
    _assert_same_layers(plain, kept, "with rasters recorded")
    rasters = rec.last_layer_inputs
    assert [r.shape for r in rasters] == [(2 * N_SAMPLES, config.steps, N_INPUTS), (2 * N_SAMPLES, config.steps, 40)]
    assert np.array_equal(rasters[0], rec.last_spikes.permute(1, 0, 2).numpy().astype(np.uint8))
    assert rasters[1].sum() > 0  # the first layer fired, so layer 1 had input
    w_hats = online_kernel.List([w.T.contiguous().numpy().copy() for w in kept.weights])
    expected = sum(float((r.astype(np.float64) @ w)[..., 0].sum()) for r, w in zip(rasters, w_hats))
    assert online_kernel.active_row_sums(online_kernel.List(rasters), w_hats) == pytest.approx(expected, rel=1e-12)


def _fraction_fired(model: SpikingFFNet, xs: torch.Tensor) -> list[float]:
    counts = model.present(model.encode(xs, torch.Generator().manual_seed(5))).counts
    return [float((c > 0).double().mean()) for c in counts]


def test_homeostasis_wakes_silent_neurons_and_is_checkpointed() -> None:
    """A layer whose initial weights are too small to fire: without the activity term it learns
    nothing and stays silent; with it (target 30 %) its neurons fire in about that fraction of
    presentations. The running activities travel in the rule's state."""
    base = dict(layers=[40], lr=0.05, init_scale=0.2, max_rate=0.5)
    xs = _stream(100)
    fired = {}
    for rate in (0.0, 0.05):
        config = FFConfig(**base, homeostasis_rate=rate, homeostasis_target=0.3, homeostasis_tau=0.05).validate()
        model, rule = _model(config), NeoHebbianRule(1)
        assert _fraction_fired(model, xs) == [0.0]
        rule.online(model, xs, torch.Generator().manual_seed(1))
        fired[rate] = _fraction_fired(model, xs)[0]
        restored = NeoHebbianRule(1)
        restored.load_state_dict(rule.state_dict())
        assert all(torch.equal(a, b) for a, b in zip(restored.activity, rule.activity))
    assert fired[0.0] == 0.0
    assert 0.1 < fired[0.05] < 0.6, fired
