"""The fused numba online trainer (neuroff.kernels.online) against the torch reference
(``SpikingFFNet.present`` run with batch size 1): same spike trains in, same weights,
eligibility traces and pair decisions out, for every option the kernel implements."""

from __future__ import annotations

import pytest
import torch

from neuroff.config import FFConfig
from neuroff.models import SpikingFFNet
from neuroff.rules.spiking import NeoHebbianRule

N_INPUTS, N_SAMPLES, TOL = 30, 20, 1e-9

# (name, config overrides): the base case, then one option changed at a time, then mixes
CASES = [
    ("base-sym", {}),
    ("sigma", dict(head="sigma")),
    ("subtract", dict(reset="subtract")),
    ("count", dict(trace="count", lr=0.005)),
    ("hard-leaky", dict(trace="hard-leaky")),
    ("refractory2", dict(refractory=2)),
    ("tau1-direct", dict(eligibility_tau=1.0)),
    ("nu0.5", dict(eligibility_nu=0.5)),
    ("sigma-subtract-count-refr", dict(head="sigma", reset="subtract", trace="count", refractory=2, lr=0.005)),
    ("sigma-hard-leaky-tau1", dict(head="sigma", trace="hard-leaky", eligibility_tau=1.0)),
    ("subtract-refr-tau1", dict(reset="subtract", refractory=2, eligibility_tau=1.0)),
]


def _train(config: FFConfig, use_kernel: bool, sparse: bool) -> tuple[SpikingFFNet, dict, list[torch.Tensor]]:
    model = SpikingFFNet(config, N_INPUTS, torch.Generator().manual_seed(0))
    init = [w.clone() for w in model.weights]
    g = torch.Generator().manual_seed(42)
    x_pos = torch.rand((N_SAMPLES, N_INPUTS), generator=g)
    x_neg = torch.rand((N_SAMPLES, N_INPUTS), generator=g)
    stats = NeoHebbianRule(1, sparse=sparse, use_kernel=use_kernel).step(model, x_pos, x_neg, torch.Generator().manual_seed(1))
    return model, stats, init


CONFIGS = [(name, [40, 20], o) for name, o in CASES] + [("base-sym-1layer", [40], {})]


@pytest.mark.parametrize("layers,overrides", [c[1:] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
def test_kernel_equals_torch_reference(overrides: dict, layers: list[int]) -> None:
    config = FFConfig(**(dict(layers=layers, lr=0.05, init_scale=3.0, max_rate=0.5) | overrides)).validate()
    ref, r_stats, init = _train(config, use_kernel=False, sparse=True)
    for i, (wr, w0) in enumerate(zip(ref.weights, init)):
        # the stream really trains every layer, so agreement below is not vacuous
        assert float((wr - w0).abs().max()) > 1e-3, f"layer {i} did not learn"
    # the reference ignores ``sparse``; the kernel has a sparse path and a dense one
    for sparse in (True, False):
        kernel, k_stats, _ = _train(config, use_kernel=True, sparse=sparse)
        assert k_stats == r_stats, f"sparse={sparse}"
        for wk, wr, ek, er in zip(kernel.weights, ref.weights, kernel.eligibilities, ref.eligibilities):
            torch.testing.assert_close(wk, wr, rtol=0, atol=TOL, msg=lambda m: f"W, sparse={sparse}: {m}")
            torch.testing.assert_close(ek, er, rtol=0, atol=TOL, msg=lambda m: f"E, sparse={sparse}: {m}")


def test_kernel_continues_across_chunks() -> None:
    """Two chunks through the kernel (weights and eligibility carried over) equal two chunks
    through the reference: the lazily-scaled eligibility is folded back exactly between calls."""
    config = FFConfig(layers=[40, 20], lr=0.05, init_scale=3.0, max_rate=0.5).validate()
    models = {k: SpikingFFNet(config, N_INPUTS, torch.Generator().manual_seed(0)) for k in (True, False)}
    for use_kernel, model in models.items():
        rule, g = NeoHebbianRule(1, use_kernel=use_kernel), torch.Generator().manual_seed(9)
        for _ in range(2):
            x = torch.rand((N_SAMPLES // 2, N_INPUTS), generator=g)
            rule.step(model, x, torch.rand((N_SAMPLES // 2, N_INPUTS), generator=g), g)
    for wk, wr, ek, er in zip(models[True].weights, models[False].weights, models[True].eligibilities, models[False].eligibilities):
        torch.testing.assert_close(wk, wr, rtol=0, atol=TOL)
        torch.testing.assert_close(ek, er, rtol=0, atol=TOL)
        assert float(ek.abs().max()) > 0
