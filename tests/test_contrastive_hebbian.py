"""Contrastive neuron-centric Hebbian: local updates vs autograd, no backprop into weights,
single-forward-pass meta-gradient, engine/CLI integration."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from neuroff import engine
from neuroff.layers.spec import Conv, Dense
from neuroff.cli import main
from neuroff.engine.options import FFConfig
from neuroff.families.contrastive_hebbian.model import (
    WEIGHT_NORMS,
    ContrastiveHebbianNet,
    contrastive_local_grad,
    contrastive_loss,
    contrastive_output_grad,
    finish_weight,
    hebbian_descent,
    layer_post,
    layer_pre,
    pair_masks,
    stepped_weight,
    update_scale,
)
from neuroff.data import load_dataset
from neuroff.errors import NeuroffError
from neuroff.families.base import Batch
from neuroff.families.contrastive_hebbian.rule import ContrastiveHebbianRule, meta_step

torch.set_num_threads(1)


def _batch(b: int = 12, d: int = 20, classes: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, d, generator=g, dtype=torch.float64), torch.randint(0, classes, (b,), generator=g)


def test_pair_masks_and_smoothing():
    y = torch.tensor([0, 0, 1, 2])
    m_pos, m_neg = pair_masks(y)
    assert m_pos.tolist() == [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert m_neg.tolist() == [[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 0, 1], [1, 1, 1, 0]]
    s_pos, s_neg = pair_masks(y, smoothing=0.3)
    off = ~torch.eye(4, dtype=torch.bool)
    assert torch.allclose(s_pos[off], 0.7 * m_pos[off] + 0.1) and torch.allclose(s_neg[off], 0.7 * m_neg[off] + 0.1)
    assert (s_pos.diagonal() == 0).all() and (s_neg.diagonal() == 0).all()


def test_loss_pulls_same_class_together_and_pushes_others_to_orthogonal():
    y = torch.tensor([0, 0, 1])
    m_pos, m_neg = pair_masks(y)
    ideal = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]])  # same class parallel, other class orthogonal
    opposite = torch.tensor([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0]])  # opposite is penalised like parallel
    assert float(contrastive_loss(ideal, m_pos, m_neg)) == pytest.approx(0.0, abs=1e-6)
    assert float(contrastive_loss(opposite, m_pos, m_neg)) == pytest.approx(4 / 9, abs=1e-6)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_output_grad_closed_form_equals_autograd(smoothing):
    y, labels = _batch()
    y[3] = 0.0  # an all-dead row: no direction, zero gradient
    m_pos, m_neg = pair_masks(labels, smoothing)
    y.requires_grad_(True)
    (auto,) = torch.autograd.grad(contrastive_loss(y, m_pos, m_neg), y)
    assert torch.allclose(contrastive_output_grad(y.detach(), m_pos, m_neg), auto, atol=1e-12)


@pytest.mark.parametrize("act", ["tanh", "relu"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_dense_local_update_equals_autograd_of_layer_local_loss(act, smoothing):
    x, labels = _batch(b=16, d=10)
    g = torch.Generator().manual_seed(1)
    w = torch.randn(7, 10, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(7, generator=g, dtype=torch.float64, requires_grad=True)
    m_pos, m_neg = pair_masks(labels, smoothing)
    layer = Dense(7)
    loss = contrastive_loss(layer_post(layer, act, layer_pre(layer, x, w, b)), m_pos, m_neg)
    auto_w, auto_b = torch.autograd.grad(loss, (w, b))
    gw, gb = contrastive_local_grad(layer, act, x, w, b, m_pos, m_neg)
    assert torch.allclose(gw, auto_w, atol=1e-12) and torch.allclose(gb, auto_b, atol=1e-12)
    assert auto_w.abs().max() > 1e-4  # the test is not comparing zeros


@pytest.mark.parametrize("layer", [Conv(4, 3), Conv(4, 3, pool=2), Conv(3, 5, stride=2)])
def test_conv_local_update_equals_autograd_of_layer_local_loss(layer):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(10, 2, 8, 8, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 3, (10,), generator=g)
    w = torch.randn(layer.channels, 2, layer.kernel, layer.kernel, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(layer.channels, generator=g, dtype=torch.float64, requires_grad=True)
    m_pos, m_neg = pair_masks(labels, 0.1)
    loss = contrastive_loss(layer_post(layer, "tanh", layer_pre(layer, x, w, b)), m_pos, m_neg)
    auto_w, auto_b = torch.autograd.grad(loss, (w, b))
    gw, gb = contrastive_local_grad(layer, "tanh", x, w, b, m_pos, m_neg)
    assert torch.allclose(gw, auto_w, atol=1e-12) and torch.allclose(gb, auto_b, atol=1e-12)


def test_hebbian_descent_is_minus_summed_cross_entropy_gradient():
    x, labels = _batch(b=9, d=6, classes=4)
    w = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    logits = F.linear(x, w, b)
    auto_w, auto_b = torch.autograd.grad(F.cross_entropy(logits, labels, reduction="sum"), (w, b))
    dw, db = hebbian_descent(x, logits, labels)
    assert torch.allclose(dw, -auto_w) and torch.allclose(db, -auto_b)


def test_update_scale_shapes_and_finish():
    c = [torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0, 5.0])]
    assert update_scale(Dense(2), c).tolist() == [[3, 4, 5], [6, 8, 10]]
    conv = update_scale(Conv(2, 2), [c[0], c[1], torch.tensor([1.0, 10.0]), torch.tensor([1.0, 100.0])])
    assert conv.shape == (2, 3, 2, 2) and float(conv[1, 2, 1, 1]) == 2 * 5 * 10 * 100
    w = torch.tensor([[3.0, 4.0, 0.0], [4.0, 3.0, 1.0]])
    assert torch.allclose(finish_weight(Dense(2), w, "fan-in").norm(dim=1), torch.ones(2))  # each neuron's inputs
    assert torch.allclose(finish_weight(Dense(2), w, "fan-out").norm(dim=0), torch.ones(3))  # each input's outputs
    assert torch.equal(finish_weight(Dense(2), w), finish_weight(Dense(2), w, "fan-out"))  # the thesis code's default
    assert finish_weight(Conv(1, 1), torch.tensor([[[[-20.0]]], [[[5.0]]]])).flatten().tolist() == [-10.0, 5.0]


@pytest.mark.parametrize("norm", WEIGHT_NORMS)
@pytest.mark.parametrize("zero_row", [False, True])
def test_fused_dense_step_equals_the_plain_expression_and_its_c_gradient(zero_row, norm):
    g = torch.Generator().manual_seed(3)
    w, dw = (torch.randn(5, 7, generator=g, dtype=torch.float64) for _ in range(2))
    if zero_row:  # a dead neuron (row) and a dead input (column): no direction, the norm's subgradient is 0
        w[2], dw[2], w[:, 4], dw[:, 4] = 0.0, 0.0, 0.0, 0.0
    c = [torch.rand(n, generator=g, dtype=torch.float64).requires_grad_() for n in (5, 7)]
    probe = torch.randn(5, 7, generator=g, dtype=torch.float64)
    fused = stepped_weight(Dense(5), w, dw, c, 0.3, norm)
    plain = finish_weight(Dense(5), w + 0.3 * update_scale(Dense(5), c) * dw, norm)
    assert torch.allclose(fused, plain)
    for a, b in zip(torch.autograd.grad((fused * probe).sum(), c), torch.autograd.grad((plain * probe).sum(), c)):
        assert torch.allclose(a, b)


def _net(layers=None, seed: int = 0) -> ContrastiveHebbianNet:
    layers = layers if layers is not None else [Dense(16), Dense(12)]
    return ContrastiveHebbianNet(layers, (64,), 10, torch.Generator().manual_seed(seed), eta=0.05)


def test_only_the_neuron_centric_rates_are_parameters():
    net = _net()
    names = [n for n, _ in net.named_parameters()]
    assert all(n.startswith("c.") for n in names) and len(names) == 6
    assert net.n_meta_parameters() == (16 + 64) + (12 + 16) + (10 + 12)
    assert net.n_meta_parameters() < net.n_weights() / 5
    conv = ContrastiveHebbianNet([Conv(4, 3, pool=2)], (1, 8, 8), 10, torch.Generator().manual_seed(0))
    assert [p.numel() for p in conv.c[0]] == [4, 1, 3, 3]  # C_post, C_pre (input channels), C_h, C_w


def test_no_weight_receives_a_backprop_gradient_only_the_cs_do():
    ds = load_dataset("digits", seed=0)
    net = _net([Dense(16), Dense(12)])
    rule = ContrastiveHebbianRule(net, batch_size=32)
    for i in range(net.n_layers):  # make any leak into a weight visible as a .grad
        for name in (f"weight_{i}", f"bias_{i}", f"delta_w_{i}", f"delta_b_{i}"):
            getattr(net, name).requires_grad_(True)
    seen = [torch.zeros(()) for _ in net.parameters()]
    for step in range(3):
        x, y = ds.x_train[step * 32 : (step + 1) * 32], ds.y_train[step * 32 : (step + 1) * 32]
        rule.step(net, Batch(x, torch.Generator(), labels=y))
        seen = [s + p.grad.abs().sum() for s, p in zip(seen, net.parameters())]
    for i in range(net.n_layers):
        for name in (f"weight_{i}", f"bias_{i}", f"delta_w_{i}", f"delta_b_{i}"):
            assert getattr(net, name).grad is None, name
    assert all(float(s) > 0 for s in seen)  # every C got a gradient (from the second step on)


def test_single_forward_pass_scheme():
    """Step t uses W(t) = finish(W(t-1) + eta C ∘ ΔW(t-1)); the C gradient is the cross-entropy's
    gradient through that dependence, and step t's local update waits for step t + 1."""
    ds = load_dataset("digits", seed=0)
    net = _net([Dense(16)])
    opt = torch.optim.SGD(net.parameters(), lr=0.0)  # freeze the C's to read their gradients
    x1, y1, x2, y2 = ds.x_train[:32], ds.y_train[:32], ds.x_train[32:64], ds.y_train[32:64]
    w0 = [w.clone() for w in net.weights]
    meta_step(net, opt, x1, y1)
    assert all(torch.allclose(a, b, atol=1e-7) for a, b in zip(w0, net.weights))  # nothing pending at step 1
    assert all(float(p.grad.abs().sum()) == 0 for p in net.parameters())
    pending = [net.delta_w_0.clone(), net.delta_w_1.clone()]
    assert all(float(d.abs().sum()) > 0 for d in pending)
    # reference: the cross-entropy of batch 2 under the stepped weights, differentiated by the C's
    c = [[p.detach().clone().requires_grad_(True) for p in layer] for layer in net.c]
    params = []
    for i, layer in enumerate(net.layer_specs):
        w = finish_weight(layer, w0[i] + net.eta * update_scale(layer, c[i]) * pending[i])
        params.append((w, getattr(net, f"bias_{i}") + net.eta * c[i][0] * getattr(net, f"delta_b_{i}")))
    ref_loss = F.cross_entropy(net.forward_with(x2, params)[1], y2)
    ref_grads = torch.autograd.grad(ref_loss, [p for layer in c for p in layer])
    loss, _ = meta_step(net, opt, x2, y2)
    assert loss == pytest.approx(float(ref_loss.detach()), rel=1e-5)
    for p, ref in zip(net.parameters(), ref_grads):
        assert torch.allclose(p.grad, ref, atol=1e-7)
    for i in range(2):
        assert torch.allclose(net.weights[i], params[i][0].detach(), atol=1e-6)


def test_momentum_accumulates_pending_updates():
    ds = load_dataset("digits", seed=0)
    net = _net([Dense(8)])
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    meta_step(net, opt, ds.x_train[:32], ds.y_train[:32], momentum=0.5)
    first = net.delta_w_0.clone()
    net2 = _net([Dense(8)])
    net2.load_state_dict(net.state_dict())
    meta_step(net, opt, ds.x_train[32:64], ds.y_train[32:64], momentum=0.5)
    meta_step(net2, torch.optim.SGD(net2.parameters(), lr=0.0), ds.x_train[32:64], ds.y_train[32:64], momentum=0.0)
    assert torch.allclose(net.delta_w_0, 0.5 * first + net2.delta_w_0, atol=1e-6)


def _cfg(**kw) -> FFConfig:
    base = dict(rule="contrastive-hebbian", mode="analog", embedding="none", layers=[64, 64], epochs=2, seed=3, n_train=600, n_test=300,
                ch_eta=0.01)  # the default 1e-3 needs more than these 19 steps
    return FFConfig(**{**base, **kw})


def test_engine_trains_digits_above_chance_and_resumes_exactly(tmp_path):
    trained = engine.train(_cfg(), out_dir=tmp_path / "a", progress=False)
    assert trained.history[-1]["test_accuracy"] > 0.6
    engine.train(_cfg(epochs=1), out_dir=tmp_path / "b", progress=False)
    resumed = engine.train(_cfg(epochs=2), out_dir=tmp_path / "b", resume=tmp_path / "b" / "model.pt", progress=False)
    for a, b in zip(trained.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    loaded = engine.load_trained(tmp_path / "a" / "model.pt")
    ds = load_dataset("digits", seed=3).subset(None, 300)
    assert engine.evaluate(loaded, ds.x_test, ds.y_test) == trained.history[-1]["test_accuracy"]


def test_eta_decay_scales_both_hebbian_rates_per_epoch_and_resumes_exactly(tmp_path):
    net = ContrastiveHebbianNet([Conv(2, 3), Dense(8)], (1, 8, 8), 10, torch.Generator().manual_seed(0))
    rule = ContrastiveHebbianRule(net, eta_decay=0.5)
    rule.on_epoch_start(2)
    assert rule.eta_scale == pytest.approx(0.25)
    eta_conv_2 = net.stepped_params(0, rule.eta_scale)[1] - net.bias_0  # b' - b = eta C db, db = 0 before training
    assert torch.equal(eta_conv_2, torch.zeros_like(eta_conv_2))
    rule.on_epoch_start(0)
    assert rule.eta_scale == 1.0
    assert (net.eta, net.eta_conv) == (1e-3, 1e-4)  # the rule never writes the model's base rates
    # a run resumed after epoch 1 continues the schedule from the base rates, not from the decayed ones
    full = engine.train(_cfg(epochs=3, ch_eta_decay=0.5), out_dir=tmp_path / "a", progress=False)
    engine.train(_cfg(epochs=1, ch_eta_decay=0.5), out_dir=tmp_path / "b", progress=False)
    resumed = engine.train(_cfg(epochs=3, ch_eta_decay=0.5), out_dir=tmp_path / "b", resume=tmp_path / "b" / "model.pt", progress=False)
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    constant = engine.train(_cfg(epochs=3), out_dir=tmp_path / "c", progress=False)
    assert not torch.equal(constant.model.weight_0, full.model.weight_0)
    with pytest.raises(NeuroffError, match=r"--ch-eta-decay 0.0 must be a finite number in \(0, 1\]"):
        _cfg(ch_eta_decay=0.0).validate()


def test_config_and_cli_errors(tmp_path, capsys):
    assert FFConfig(rule="contrastive-hebbian").validate().embedding == "none"  # the family's default
    with pytest.raises(NeuroffError, match="--embedding none"):
        FFConfig(rule="contrastive-hebbian", embedding="code").validate()
    with pytest.raises(NeuroffError, match="code or onehot"):
        FFConfig(rule="ff", embedding="none").validate()
    with pytest.raises(NeuroffError, match="--mode analog"):
        engine.create(_cfg(mode="spiking"), load_dataset("digits", seed=0))
    with pytest.raises(NeuroffError, match="labels"):
        ContrastiveHebbianRule(_net()).step(_net(), Batch(torch.zeros(2, 64), torch.Generator()))
    with pytest.raises(NeuroffError, match="unknown weight norm 'rows'"):
        ContrastiveHebbianNet([Dense(4)], (8,), 2, torch.Generator(), weight_norm="rows")
    with pytest.raises(SystemExit) as err:
        main(["train", "--rule", "contrastive-hebbian", "--ch-weight-norm", "rows"])
    assert err.value.code == 2 and "fan-out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        main(["train", "--rule", "contrastive-hebbian", "--embedding", "code", "--quiet"])
    assert err.value.code == 2 and "--embedding none" in capsys.readouterr().err
    with pytest.raises(SystemExit) as err:
        main(["train", "--rule", "contrastive-hebbian", "--mode", "analog", "--embedding", "none", "--layers", "32",
              "--n-train", "200", "--n-test", "100", "--ch-activation", "relu", "--ch-momentum", "0.9",
              "--ch-smoothing", "0.1", "--ch-weight-norm", "fan-in", "--epochs", "1", "--quiet", "--out", str(tmp_path)])
    assert err.value.code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["epochs"] == 1 and 0.0 <= out["test_accuracy"] <= 1.0


# ---------------------------------------------------------------- the thesis's options (issue 21)


@pytest.mark.parametrize("layer", [Conv(4, 3, pool=2), Conv(3, 3)])
def test_conv_loss_before_the_pool_equals_autograd(layer):
    """--ch-conv-loss conv: the loss on act(conv output), before the max-pool, as in the thesis."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(10, 2, 8, 8, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 3, (10,), generator=g)
    w = torch.randn(layer.channels, 2, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(layer.channels, generator=g, dtype=torch.float64, requires_grad=True)
    m_pos, m_neg = pair_masks(labels)
    loss = contrastive_loss(torch.tanh(layer_pre(layer, x, w, b)), m_pos, m_neg)
    auto_w, auto_b = torch.autograd.grad(loss, (w, b))
    gw, gb = contrastive_local_grad(layer, "tanh", x, w, b, m_pos, m_neg, conv_loss="conv")
    assert torch.allclose(gw, auto_w, atol=1e-12) and torch.allclose(gb, auto_b, atol=1e-12)
    if layer.pool > 1:  # the placement matters: the pooled loss has another gradient
        pooled, _ = contrastive_local_grad(layer, "tanh", x, w, b, m_pos, m_neg)
        assert not torch.allclose(pooled, gw)


def test_no_biases_stay_zero_and_dropout_is_seeded():
    """--ch-bias false: biases start and stay at 0; --ch-dropout p: masks drawn from the run's
    generator (same seed, same step), and p = 0 draws nothing (earlier runs are unchanged)."""
    x, y = _batch(16, 20, 3)
    x = x.float()

    def stepped(bias: bool, dropout: float, seed: int = 0) -> ContrastiveHebbianNet:
        net = ContrastiveHebbianNet([Dense(12), Dense(8)], (20,), 3, torch.Generator().manual_seed(0), bias=bias, dropout=dropout)
        rule = ContrastiveHebbianRule(net, batch_size=8)
        g = torch.Generator().manual_seed(seed)
        for _ in range(3):
            rule.step(net, Batch(x, g, labels=y))
        return net

    plain = stepped(False, 0.0)
    assert all(float(plain.layer_params(i)[1].abs().max()) == 0.0 for i in range(plain.n_layers))
    assert not torch.equal(plain.weights[0], stepped(True, 0.0).weights[0])  # with biases the run differs
    a, b, other = stepped(False, 0.3), stepped(False, 0.3), stepped(False, 0.3, seed=1)
    assert torch.equal(a.weights[0], b.weights[0]) and not torch.equal(a.weights[1], other.weights[1])
    assert not torch.equal(a.weights[1], plain.weights[1])
    net = stepped(True, 0.5)
    params = [net.layer_params(i) for i in range(net.n_layers)]
    hidden, _ = net.forward_with(x, params, torch.Generator().manual_seed(0))
    clean, _ = net.forward_with(x, params)
    dropped = hidden[0] == 0
    assert 0.3 < float(dropped.float().mean()) < 0.7  # about half the outputs dropped while training
    assert torch.allclose(hidden[0][~dropped], 2 * clean[0][~dropped])  # the rest scaled by 1 / (1 - p)
    with pytest.raises(NeuroffError, match="dropout"):
        ContrastiveHebbianNet([Dense(4)], (20,), 3, torch.Generator(), dropout=1.0)
