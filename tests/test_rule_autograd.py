"""The central claim: the closed-form neo-Hebbian update is the FF gradient.

For an analog layer z = relu(W x + b), the three-factor rule dW = 2 * (M * z) x^T with the
closed-form third factor M = modulation(z, s, head) equals -dL/dW of the per-layer FF loss
L = mean_b BCE(P(z_b), s_b), computed here by autograd, to float64 rounding. The same holds for
the analog twin's actual SGD step (FFAutogradRule), layer by layer."""

from __future__ import annotations

import pytest
import torch

from neuroff.engine.options import FFConfig
from neuroff.core.goodness import HeadParams, ff_loss, modulation
from neuroff.families.ff.model import AnalogFFNet
from neuroff.families.ff.analog_rule import FFAutogradRule
from neuroff.families.base import Batch
from neuroff.core.plasticity import neo_hebbian_delta

HEADS = [HeadParams("sigma", alpha=6.0, theta=1.0), HeadParams("sym", eps=0.01)]
LABELS = {
    "one-positive": [1.0],
    "one-negative": [0.0],
    "mixed": [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0],
}
TOL = 1e-10


def _layer(seed: int, n_out: int = 8, n_in: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn((n_out, n_in), generator=g, dtype=torch.float64) * 0.35 / n_in**0.5
    b = torch.randn(n_out, generator=g, dtype=torch.float64) * 0.05
    return w, b


@pytest.mark.parametrize("head", HEADS, ids=lambda h: h.kind)
@pytest.mark.parametrize("labels", list(LABELS.values()), ids=list(LABELS))
def test_closed_form_rule_equals_minus_autograd_gradient(head: HeadParams, labels: list[float]) -> None:
    s = torch.tensor(labels, dtype=torch.float64)
    x = torch.rand((len(labels), 12), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    w0, b0 = _layer(2)
    w = w0.clone().requires_grad_(True)
    b = b0.clone().requires_grad_(True)
    z = torch.relu(x @ w.T + b)
    ff_loss(z, s, head).mean().backward()
    assert (z > 0).any() and (z == 0).any()  # both sides of the ReLU are exercised

    zd = z.detach()
    dw = neo_hebbian_delta(x, zd, modulation(zd, s, head), lr=2.0)
    db = neo_hebbian_delta(torch.ones(len(labels), 1, dtype=torch.float64), zd, modulation(zd, s, head), lr=2.0)[:, 0]
    assert float(w.grad.abs().max()) > 1e-3  # a real gradient, so equality is not vacuous
    torch.testing.assert_close(dw, -w.grad, rtol=0, atol=TOL)
    torch.testing.assert_close(db, -b.grad, rtol=0, atol=TOL)


@pytest.mark.parametrize("head", HEADS, ids=lambda h: h.kind)
@pytest.mark.parametrize("labels", list(LABELS.values()), ids=list(LABELS))
def test_modulation_is_minus_dloss_dgoodness(head: HeadParams, labels: list[float]) -> None:
    """M = -dL/dG per neuron; with dG/dz_j = 2 z_j that is M_j = -(dL/dz_j) / (2 z_j)."""
    s = torch.tensor(labels, dtype=torch.float64)
    g = torch.Generator().manual_seed(7)
    z = (torch.rand((len(labels), 8), generator=g, dtype=torch.float64) * 0.5 + 0.05).requires_grad_(True)
    ff_loss(z, s, head).sum().backward()
    m_autograd = -z.grad / (2 * z.detach())
    m = modulation(z.detach(), s, head)
    assert m.shape == z.shape
    torch.testing.assert_close(m, m_autograd, rtol=0, atol=TOL)
    if head.kind == "sigma":  # one scalar per sample
        assert torch.all(m == m[:, :1])
    else:  # one value per half
        assert torch.all(m[:, :4] == m[:, :1]) and torch.all(m[:, 4:] == m[:, 4:5])


@pytest.mark.parametrize("head", ["sigma", "sym"])
@pytest.mark.parametrize("layers", [[8], [8, 6]])
def test_ff_autograd_sgd_step_is_the_neo_hebbian_update(head: str, layers: list[int]) -> None:
    """One SGD step of the analog twin with rate eta is W + dW with the rule's c = 2 * eta, per
    layer, each layer seeing the detached (and, past the first, length-normalised) output below."""
    eta, n_in, n = 0.05, 12, 5
    config = FFConfig(mode="analog", layers=layers, head=head, optimizer="sgd", analog_lr=eta)
    model = AnalogFFNet(config, n_in, torch.Generator().manual_seed(0)).double()
    rule = FFAutogradRule(model, config.optimizer, config.analog_lr, batch_size=2 * n)
    g = torch.Generator().manual_seed(3)
    x_pos = torch.rand((n, n_in), generator=g, dtype=torch.float64)
    x_neg = torch.rand((n, n_in), generator=g, dtype=torch.float64)
    x = torch.cat([x_pos, x_neg])
    s = torch.cat([torch.ones(n), torch.zeros(n)]).double()

    # the closed-form prediction, computed from the weights before the step
    expected, pre = [], x
    with torch.no_grad():
        for i, layer in enumerate(model.layers):
            pre = model.layer_input(pre, i)
            z = torch.relu(pre @ layer.weight.T + layer.bias)
            m = modulation(z, s, model.head)
            ones = torch.ones(len(pre), 1, dtype=torch.float64)
            expected.append(
                (
                    layer.weight + neo_hebbian_delta(pre, z, m, lr=2 * eta),
                    layer.bias + neo_hebbian_delta(ones, z, m, lr=2 * eta)[:, 0],
                )
            )
            pre = z
    before = [layer.weight.detach().clone() for layer in model.layers]

    rule.step(model, Batch(x_pos, torch.Generator().manual_seed(0), x_neg=x_neg))

    for layer, w_before, (w_exp, b_exp) in zip(model.layers, before, expected):
        assert float((layer.weight.detach() - w_before).abs().max()) > 1e-4  # the step really moved W
        torch.testing.assert_close(layer.weight.detach(), w_exp, rtol=0, atol=1e-12)
        torch.testing.assert_close(layer.bias.detach(), b_exp, rtol=0, atol=1e-12)
