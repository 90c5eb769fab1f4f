"""Self-Contrastive FF (neuroff.families.scff.model, neuroff.families.scff.rule): pairing, shared weights, loss and
penalty, third factor vs autograd, standardisation, Algorithm 1/2 wiring, layer-wise freezing,
and a digits run whose probe beats the same probe on the random-init network."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from neuroff import engine
from neuroff.engine.options import FFConfig
from neuroff.errors import NeuroffError
from neuroff.engine.training import build
from neuroff.families.base import Batch
from neuroff.families.scff.model import (
    SCFFNet,
    goodness,
    make_pairs,
    modulation,
    pair_shift,
    parse_algorithms,
    scff_loss,
    standardise,
    trainable_layer,
    triangle,
)


def _config(**kw) -> FFConfig:
    base = dict(rule="scff", embedding="none", mode="analog", layers=[16, 12], batch_size=8, seed=0)
    base.update(kw)
    return FFConfig(**base).validate()


def test_pairs_positive_is_self_negative_never_self():
    x = torch.arange(10, dtype=torch.float32).unsqueeze(1) * torch.ones(1, 3)  # row i is all i: identifiable
    g = torch.Generator().manual_seed(1)
    for _ in range(50):
        pos, neg = make_pairs(x, g)
        assert pos.shape == neg.shape == (10, 6)
        assert torch.equal(pos[:, :3], x) and torch.equal(pos[:, 3:], x)
        assert torch.equal(neg[:, :3], x)
        assert (neg[:, 3] != neg[:, 0]).all()  # partner is another sample
    partners = {tuple(pair_shift(5, g).tolist()) for _ in range(100)}
    assert len(partners) == 4  # every shift 1..4 is drawn
    with pytest.raises(NeuroffError, match="batch-size"):
        pair_shift(1)


def test_shared_weight_equals_tied_layer_on_concatenation():
    model = SCFFNet.dense([5, 4], [], torch.Generator().manual_seed(0))
    a, c = torch.randn(3, 5), torch.randn(3, 5)
    h = torch.cat([a, c], -1)
    w, b = model.layers[0].weight, model.layers[0].bias
    tied = F.linear(standardise(h), torch.cat([w, w], 1), 2 * b)
    assert torch.allclose(model.pre_activation(0, h), tied, atol=1e-6)
    u = standardise(h)
    assert torch.allclose(model.pre_activation(0, h), u[:, :5] @ w.T + u[:, 5:] @ w.T + 2 * b, atol=1e-6)


def test_standardise_and_dataset_normalisation_is_absorbed():
    x = torch.rand(6, 20)
    u = standardise(x)
    assert torch.allclose(u.mean(-1), torch.zeros(6), atol=1e-6)
    assert torch.allclose(u.std(-1, unbiased=False), torch.ones(6), atol=1e-5)
    model = SCFFNet.dense([20, 8, 6], [2], torch.Generator().manual_seed(0))
    mu, sigma = 0.1307, 0.3081  # a dataset-wide (scalar) normalisation changes no feature
    for f1, f2 in zip(model.features(x), model.features((x - mu) / sigma)):
        assert torch.allclose(f1, f2, atol=1e-5)


def test_goodness_loss_and_penalty_by_hand():
    y = torch.tensor([[1.0, -2.0, 3.0, 0.0]])
    assert torch.allclose(goodness(y), torch.tensor([2.5]))  # (1 + 0 + 9 + 0) / 4
    assert torch.allclose(triangle(y), torch.tensor([[0.5, 0.0, 2.5, 0.0]]))  # mean 0.5
    g_pos, g_neg = torch.tensor([1.0, 3.0]), torch.tensor([2.0])
    expect = (math.log1p(math.exp(1.0)) + math.log1p(math.exp(-1.0))) / 2 + math.log1p(math.exp(1.0)) + 0.1 * 2.0
    assert float(scff_loss(g_pos, g_neg, 2.0, 1.0, 0.1)) == pytest.approx(expect, rel=1e-6)
    # penalty gradient: d(lambda * mean_b ||G_b||) / dG_b = lambda * G_b / ||G_b|| / B (= lambda / B for dense)
    g = torch.tensor([1.0, 3.0], requires_grad=True)
    (0.1 * g.reshape(2, -1).norm(dim=1).mean()).backward()
    assert torch.allclose(g.grad, torch.tensor([0.05, 0.05]))
    loss0 = scff_loss(torch.tensor([1.0, 3.0]), g_neg, 2.0, 1.0, 0.0)
    assert float(scff_loss(torch.tensor([1.0, 3.0]), g_neg, 2.0, 1.0, 0.1) - loss0) == pytest.approx(0.2)
    # goodness vector per position (conv-style [B, positions]): Frobenius norm of each sample's vector
    gv = torch.tensor([[3.0, 4.0]])
    assert float(scff_loss(gv, torch.zeros(1, 2), 0.0, 0.0, 1.0) - scff_loss(gv, torch.zeros(1, 2), 0.0, 0.0, 0.0)) == pytest.approx(5.0)


def test_modulation_equals_autograd():
    """-dL/dz = (2 / B) M z per half of the batch (B positives, B negatives; dG_sum/dz = 2 z)."""
    torch.manual_seed(0)
    z = torch.rand(2, 4, 6, dtype=torch.float64, requires_grad=True)  # [pos/neg, B, N]
    theta_pos, theta_neg, lam = 0.3, 0.5, 0.05
    g = (z * z).mean(-1)
    scff_loss(g[0], g[1], theta_pos, theta_neg, lam).backward()
    for k, s in ((0, 1.0), (1, 0.0)):
        m = modulation(z[k].detach(), torch.full((4,), s), theta_pos, theta_neg, lam)
        assert torch.allclose(-z.grad[k], 2.0 / 4 * m * z[k].detach(), atol=1e-12)


def test_algorithm_wiring():
    g = torch.Generator().manual_seed(0)
    m1 = SCFFNet.dense([10, 8, 6], [1], g)
    m2 = SCFFNet.dense([10, 8, 6], [2], g)
    assert m1.paired == [True, False] and m2.paired == [True, True]
    t_pos, t_neg = torch.rand(5, 8), torch.rand(5, 8)
    h_pos, h_neg = m1.next_inputs(0, t_pos, t_neg, g)
    assert h_pos is t_pos and h_neg is t_neg  # Algorithm 1: the outputs of positives and negatives
    h_pos, h_neg = m2.next_inputs(0, t_pos, t_neg, g)  # Algorithm 2: positives re-paired
    assert torch.equal(h_pos, torch.cat([t_pos, t_pos], -1))
    assert torch.equal(h_neg[:, :8], t_pos) and not torch.equal(h_neg[:, 8:], t_pos)
    assert all(any(torch.equal(row, t) for t in t_pos) for row in h_neg[:, 8:])  # partners are positives' outputs
    x = torch.rand(4, 10)
    t0 = triangle(m2.pre_activation(0, torch.cat([x, x], -1)))
    assert torch.allclose(m2.features(x)[1], triangle(m2.pre_activation(1, torch.cat([t0, t0], -1))))
    assert torch.allclose(m1.features(x)[1], triangle(m1.pre_activation(1, triangle(m1.pre_activation(0, torch.cat([x, x], -1))))))
    assert parse_algorithms("2", 3) == [2, 2] and parse_algorithms("1,2", 3) == [1, 2]
    for bad in ("3", "1,2,1", "x"):
        with pytest.raises(NeuroffError, match="scff-algorithm"):
            parse_algorithms(bad, 3)
    assert [trainable_layer(e, 2, 3) for e in range(8)] == [0, 0, 1, 1, 2, 2, 2, 2]


@pytest.mark.parametrize("mode", ["analog", "spiking"])
def test_layerwise_training_freezes_other_layers(mode):
    cfg = _config(mode=mode, layers=[16, 12], scff_epochs_per_layer=1, **({"lr": 5.0} if mode == "spiking" else {}))
    model, rule = build(cfg.validate(), 20, 10, torch.Generator().manual_seed(0))
    x = torch.rand(24, 20)
    g = torch.Generator().manual_seed(1)
    w0 = [w.detach().clone() for w in model.weights]
    rule.on_epoch_start(0)
    rule.step(model, Batch(x, g))
    w1 = [w.detach().clone() for w in model.weights]
    assert not torch.equal(w1[0], w0[0]) and torch.equal(w1[1], w0[1])  # only layer 0 learns
    rule.on_epoch_start(1)
    rule.step(model, Batch(x, g))
    w2 = [w.detach().clone() for w in model.weights]
    assert torch.equal(w2[0], w1[0]) and not torch.equal(w2[1], w1[1])  # layer 0 frozen, layer 1 learns


def test_configuration_errors():
    assert FFConfig(rule="scff").validate().embedding == "none"  # the family's default
    with pytest.raises(NeuroffError, match="embedding none"):
        FFConfig(rule="scff", embedding="code").validate()
    with pytest.raises(NeuroffError, match="--lr belongs to the neo-Hebbian plasticity"):
        FFConfig(rule="scff", lr=0.1).validate()  # analog SCFF reads --analog-lr
    for bad, match in ((dict(probe="svm"), "unknown probe"), (dict(probe_dropout=1.0), r"--probe-dropout 1.0 must be a finite number in \[0, 1\)"),
                       (dict(probe_epochs=0), "--probe-epochs 0 must be >= 1"), (dict(scff_augment=-1), "--scff-augment -1 must be >= 0")):
        with pytest.raises(NeuroffError, match=match):
            _config(**bad)
    with pytest.raises(NeuroffError, match="batch-size"):
        build(_config(batch_size=1).validate(), 10, 10, torch.Generator())
    with pytest.raises(NeuroffError, match="--scff-algorithm belongs to the analog SCFF"):
        _config(mode="spiking", scff_algorithm="2")  # spiking SCFF feeds each layer the previous layer's spikes (Algorithm 1)
    model, _ = build(_config().validate(), 10, 10, torch.Generator())
    with pytest.raises(NeuroffError, match="linear probe"):
        model.candidate_scores(torch.rand(2, 3, 10))


def test_digits_probe_beats_random_network(tmp_path):
    """Trained SCFF features are more linearly decodable than the random-init network's (the
    paper's control); the run reports the probe accuracy as its test accuracy; checkpoints load."""
    cfg = FFConfig(rule="scff", embedding="none", mode="analog", layers=[32], epochs=2, dataset="digits", seed=0).validate()
    ds = engine.prepare_dataset(cfg)
    random_acc = engine.readout_accuracy(engine.create(cfg, ds), ds)
    trained = engine.train(cfg, out_dir=tmp_path, dataset=ds, progress=False)
    acc = trained.history[-1]["test_accuracy"]
    assert acc == engine.readout_accuracy(trained, ds)
    assert acc > random_acc + 0.01, (acc, random_acc)
    loaded = engine.load_trained(tmp_path / "model.pt")
    assert engine.test_accuracy(loaded, ds) == pytest.approx(acc)


def test_spiking_scff_runs_end_to_end():
    cfg = FFConfig(rule="scff", embedding="none", mode="spiking", layers=[20], epochs=1, batch_size=16, dataset="digits",
                   n_train=64, n_test=40, lr=5.0, init_scale=3.0, scff_threshold_pos=0.05, scff_threshold_neg=0.1).validate()
    trained = engine.train(cfg, progress=False)
    assert 0.0 < trained.history[-1]["test_accuracy"] <= 1.0
    assert trained.history[-1]["train_accuracy"] > 0.0


def test_cli_trains_evaluates_and_reports_errors(tmp_path, capsys):
    from neuroff.cli import main

    small = ["--dataset", "digits", "--n-train", "120", "--n-test", "60", "--layers", "16,12", "--batch-size", "16"]
    with pytest.raises(SystemExit) as exc:
        main(["train", "--rule", "scff", "--embedding", "none", "--mode", "analog", "--epochs", "2", *small,
              "--scff-algorithm", "2", "--quiet", "--out", str(tmp_path)])
    assert exc.value.code == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", str(tmp_path / "model.pt"), "--n-test", "60"])
    assert exc.value.code == 0 and 0.0 < json.loads(capsys.readouterr().out)["test_accuracy"] <= 1.0
    with pytest.raises(SystemExit) as exc:
        main(["train", "--rule", "scff", "--embedding", "onehot", *small])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "--embedding none" in err


def test_penalty_gradient_through_the_loss():
    """d(scff_loss)/dG of the positives' penalty term is lambda * G_b / ||G_b|| / B per sample."""
    g_pos = torch.tensor([[3.0, 4.0], [1.0, 0.0]], dtype=torch.float64, requires_grad=True)
    g_neg = torch.zeros(2, 2, dtype=torch.float64)
    lam = 0.3
    (scff_loss(g_pos, g_neg, 0.0, 0.0, lam) - scff_loss(g_pos, g_neg, 0.0, 0.0, 0.0)).backward()
    norms = g_pos.detach().norm(dim=1, keepdim=True)
    assert torch.allclose(g_pos.grad, lam * g_pos.detach() / norms / 2)


def test_conv_pairs_shared_weights_and_goodness_per_position():
    from neuroff.layers.spec import Conv

    g = torch.Generator().manual_seed(0)
    model = SCFFNet([Conv(4, 3, 1, 2), Conv(5, 3)], (1, 6, 6), [2], g)
    x = torch.rand(3, 36)
    pos, neg = make_pairs(model.as_input(x), g)
    assert pos.shape == (3, 2, 6, 6) and torch.equal(pos[:, :1], pos[:, 1:])  # images paired along the channels
    w, b = model.layers[0].weight, model.layers[0].bias
    tied = F.conv2d(standardise(neg), torch.cat([w, w], 1), 2 * b, padding=1)
    y = model.pre_activation(0, neg)
    assert torch.allclose(y, tied, atol=1e-5)
    assert goodness(y).shape == (3, 6, 6)  # one goodness per position: mean over the channels
    assert torch.allclose(goodness(y)[0, 2, 3], torch.relu(y[0, :, 2, 3]).pow(2).mean())
    t = model.pass_on(0, y)
    assert t.shape == (3, 4, 3, 3) and torch.allclose(t, F.max_pool2d(triangle(y), 2))
    g_pos, g_neg = model.layer_goodness(1, x, g)  # layer 1 is paired (Algorithm 2): a pair of layer-0 outputs
    assert g_pos.shape == g_neg.shape == (3, 3, 3)
    feats = model.latents(x)["activations"]  # the probe's extra pooling to a 2 x 2 grid
    assert [f.shape for f in feats] == [(3, 16), (3, 20)]


def test_conv_scff_trains_through_the_cli_and_rejects_bad_blocks(tmp_path, capsys):
    from neuroff.cli import main

    base = ["train", "--rule", "scff", "--embedding", "none", "--mode", "analog", "--n-train", "200", "--n-test", "60", "--quiet"]
    with pytest.raises(SystemExit) as exc:
        main([*base, "--blocks", "1x8x8,c8k3p2,c8k3", "--epochs", "2", "--out", str(tmp_path)])
    assert exc.value.code == 0
    out = json.loads(capsys.readouterr().out)
    assert 0.0 < out["test_accuracy"] <= 1.0
    loaded = engine.load_trained(tmp_path / "model.pt")
    assert loaded.model.specs[0].channels == 8
    for blocks, message in (("1x8x8,(c8k3,c8k3)", "one layer per block"), ("1x9x9,c8k3", "81 inputs")):
        with pytest.raises(SystemExit) as exc:
            main([*base, "--blocks", blocks])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and err.count("\n") == 1 and message in err


def test_rows_as_sequence_and_birnn_reads_both_directions():
    from neuroff.families.scff.birnn import SCFFBiRNN, rows_as_sequence

    x = torch.arange(12.0).view(1, 12)
    assert torch.equal(rows_as_sequence(x, (3, 4))[0], x.view(3, 4))  # step t = row t
    with pytest.raises(NeuroffError, match="image"):
        rows_as_sequence(x, (12,))
    model = SCFFBiRNN((5, 4), 7, torch.Generator().manual_seed(0))
    with torch.no_grad():  # equal weights in both directions: flipping the rows swaps the directions
        model.input_weights[1].copy_(model.input_weights[0])
        model.recurrent_weights[1].copy_(model.recurrent_weights[0])
        model.biases[1].copy_(model.biases[0])
    x = torch.rand(3, 20)
    flipped = x.view(3, 5, 4).flip(1).reshape(3, 20)
    z, zf = model.latents(x)["activations"][0], model.latents(flipped)["activations"][0]
    assert z.shape == (3, 14)
    assert torch.allclose(z, torch.cat([zf[:, 7:], zf[:, :7]], 1), atol=1e-6)


def test_birnn_step_gradients_are_local_in_time_and_negatives_pair_histories():
    """No backpropagation through time: the gradient of the last step's goodness equals that of a
    single step from the (fixed) previous state. A negative pairs (x_t, h_{t-1}) with the
    partner's own (x'_t, h'_{t-1}) through the tied weights."""
    from neuroff.families.scff.birnn import SCFFBiRNN, rows_as_sequence

    model = SCFFBiRNN((4, 3), 5, torch.Generator().manual_seed(0))
    seq = rows_as_sequence(torch.rand(2, 12), (4, 3))
    g, prev, last = model.run(0, seq)
    g[:, -1].sum().backward()
    full = model.recurrent_weights[0].grad.clone()
    model.zero_grad()
    with torch.no_grad():
        _, _, h_prev = model.run(0, seq[:, :-1])
    assert torch.allclose(prev[:, -1], h_prev)
    goodness(model.pre_activation(0, seq[:, -1], h_prev)).sum().backward()
    assert torch.allclose(full, model.recurrent_weights[0].grad, atol=1e-6)
    partner = torch.tensor([1, 0])
    y = model.pre_activation(0, seq[:, 2], prev[:, 2], partner)
    w, r, b = model.input_weights[0], model.recurrent_weights[0], model.biases[0]
    u = standardise(torch.cat([seq[:, 2], seq[partner, 2]], -1))
    s = standardise(prev[:, 2])
    tied = F.linear(torch.cat([u, s, s[partner]], -1), torch.cat([w, w, r, r], 1), 2 * b)
    assert torch.allclose(y, tied, atol=1e-5)


def test_birnn_scff_beats_its_random_recurrent_control():
    """Digits read as 8-step sequences of rows: the trained Bi-RNN's last states are more
    linearly decodable than the same network's at its random initialisation."""
    cfg = FFConfig(rule="scff", embedding="none", mode="analog", scff_birnn=True, layers=[32], epochs=2, dataset="digits", seed=0).validate()
    ds = engine.prepare_dataset(cfg)
    random_acc = engine.readout_accuracy(engine.create(cfg, ds), ds)
    trained = engine.train(cfg, dataset=ds, progress=False)
    assert trained.history[-1]["test_accuracy"] > random_acc + 0.01, (trained.history[-1]["test_accuracy"], random_acc)
    with pytest.raises(NeuroffError, match="square"):
        build(_config(scff_birnn=True).validate(), 10, 10, torch.Generator())


def test_random_shift_and_augmented_pairs():
    from neuroff.data.augment import random_shift

    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 1, 6, 6)
    assert random_shift(x, 0, g) is x
    y = random_shift(x, 2, g)
    padded = F.pad(x, (2, 2, 2, 2))
    for i in range(8):  # every output is its own image translated by some (dy, dx) in [-2, 2]^2
        assert any(torch.equal(y[i], padded[i, :, dy : dy + 6, dx : dx + 6]) for dy in range(5) for dx in range(5))
    model = SCFFNet.dense([36, 5], [], g, augment=1)
    pos, neg = model.training_pairs(x.view(8, 36), g)
    assert pos.shape == neg.shape == (8, 72)
    assert not torch.equal(pos[:, :36], pos[:, 36:])  # two independent views of the same images
    with pytest.raises(NeuroffError, match="square"):
        SCFFNet.dense([10, 5], [], g, augment=1)


def test_spiking_centred_input_has_no_common_mode_update():
    """--scff-centre: each synapse sees its input spike minus the sample's mean input spike, so a
    neuron's update sums to zero over its inputs (its row sum of W never moves), while the plain
    rule's row sums drift; the option belongs to spiking SCFF only."""
    x = torch.rand(32, 20)
    drift = {}
    for centre in (False, True):
        cfg = _config(mode="spiking", layers=[12], lr=5.0, init_scale=3.0, scff_threshold_pos=0.05,
                      scff_threshold_neg=0.1, scff_centre=centre)  # fmt: skip
        model, rule = build(cfg.validate(), 20, 10, torch.Generator().manual_seed(0))
        w0 = model.weights[0].clone()
        before = w0.sum(1)
        rule.on_epoch_start(0)
        rule.step(model, Batch(x, torch.Generator().manual_seed(1)))
        assert not torch.equal(model.weights[0], w0)  # both learn
        drift[centre] = float((model.weights[0].sum(1) - before).abs().max())
    assert drift[True] < 1e-9 < drift[False], drift
    with pytest.raises(NeuroffError, match="scff-centre"):
        _config(scff_centre=True)  # analog


def test_centred_spiking_net_is_not_exported(tmp_path):
    """Loihi and NIR would run the network without its feedforward inhibition: refuse, not mis-export."""
    from neuroff.export.capability import LOIHI, check_exportable
    from neuroff.export.nir import export_nir

    cfg = _config(mode="spiking", layers=[8], dataset="digits", scff_centre=True)
    trained = engine.create(cfg, engine.prepare_dataset(cfg))
    for export in (lambda t: check_exportable(t, LOIHI), lambda t: export_nir(t, tmp_path / "net.nir")):
        with pytest.raises(NeuroffError, match="scff-centre"):
            export(trained)


def test_per_layer_settings_and_the_rate_schedule_restarts_per_layer(capsys):
    """--scff-layer-*: one θ⁺/θ⁻/λ/lr per layer (the paper tunes each layer); the --lr-decay
    schedule starts again at every layer, as when each layer is trained in a run of its own."""
    from neuroff.cli import main

    cfg = _config(scff_layer_threshold_pos=[4.0, 1.0], scff_layer_threshold_neg=[6.0, 2.0], scff_layer_lambda=[1e-4, 1e-3],
                  scff_layer_lr=[0.003, 0.01], scff_epochs_per_layer=2, lr_decay=0.5)  # fmt: skip
    model, rule = build(cfg, 20, 10, torch.Generator().manual_seed(0))
    assert rule.thresholds == [(4.0, 6.0), (1.0, 2.0)] and rule.lams == [1e-4, 1e-3]
    rates = []
    for epoch in range(4):
        rule.on_epoch_start(epoch)
        rates.append((rule.layer, [opt.param_groups[0]["lr"] for opt in rule.optimizers]))
    assert rates == [(0, [0.003, 0.01]), (0, [0.0015, 0.005]), (1, [0.003, 0.01]), (1, [0.0015, 0.005])]
    default = build(_config(scff_threshold_pos=3.0), 20, 10, torch.Generator().manual_seed(0))[1]
    assert default.thresholds == [(3.0, 2.0), (3.0, 2.0)] and default.lrs == [0.003, 0.003]
    with pytest.raises(NeuroffError, match="--scff-layer-lr has 1 values for 2 layers"):
        build(_config(scff_layer_lr=[0.1]), 20, 10, torch.Generator().manual_seed(0))
    with pytest.raises(NeuroffError, match="must be finite and > 0"):
        build(_config(scff_layer_lr=[0.1, 0.0]), 20, 10, torch.Generator().manual_seed(0))
    with pytest.raises(SystemExit) as err:  # the CLI parses the lists and refuses them for spiking SCFF
        main(["train", "--rule", "scff", "--mode", "spiking", "--scff-layer-lambda", "1e-4", "--dataset", "digits"])
    assert err.value.code == 2 and "per-layer SCFF" in capsys.readouterr().err
