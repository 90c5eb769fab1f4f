"""Integrated FF: block-spec parser, loss equation, gradient equivalences, training, CLI."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from neuroff import engine
from neuroff.layers.spec import BlockSpec, Conv, Dense, format_blocks, layer_shapes, parse_blocks
from neuroff.cli import main
from neuroff.engine.options import FFConfig
from neuroff.errors import NeuroffError
from neuroff.engine.training import build
from neuroff.families.base import Batch
from neuroff.core.goodness import HeadParams, ff_loss
from neuroff.families.intff.model import IntFFNet, intff_loss, mean_goodness
from neuroff.families.intff.rule import IntFFRule

torch.set_num_threads(1)


# ---------------------------------------------------------------- block specs


def test_parse_nested_dense_blocks():
    spec = parse_blocks("784, (200,200,200), (50,50)")
    assert spec.input_shape == (784,)
    assert spec.blocks == ((Dense(200),) * 3, (Dense(50),) * 2)
    assert format_blocks(spec) == "784,(200,200,200),(50,50)"


def test_parse_conv_and_bare_blocks():
    spec = parse_blocks("1x28x28,(c16k5p2,c32k3s2),c8k3,(100),10")
    assert spec.input_shape == (1, 28, 28)
    assert spec.blocks == ((Conv(16, 5, 1, 2), Conv(32, 3, 2, 1)), (Conv(8, 3),), (Dense(100),), (Dense(10),))
    assert layer_shapes(spec) == [(16, 14, 14), (32, 7, 7), (8, 7, 7), (100,), (10,)]
    assert parse_blocks(format_blocks(spec)) == spec
    assert parse_blocks("8x8,(c4k3)").input_shape == (1, 8, 8)
    assert layer_shapes(BlockSpec((3, 8, 8), ((Conv(4, 3, 2, 1),),))) == [(4, 4, 4)]  # stride 2, padding 1


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "empty"),
        ("784", "at least one block"),
        ("784,(200", "unclosed"),
        ("784,200)", "unmatched"),
        ("784,((200))", "cannot nest"),
        ("784,(200,),(50)", "empty item"),
        ("784,()", "empty block"),
        ("784,(200)x", "outside its parentheses"),
        ("784,abc", "neither a unit count"),
        ("784,0", ">= 1"),
        ("(200),(50)", "first item must be the input size"),
        ("28y28,(10)", "input size D, HxW or CxHxW"),
        ("784,(c16k5)", "flat vector"),
        ("8x8,(10,c4k3)", "cannot follow a dense layer"),
        ("8x8,(c4k3p9)", "shrinks the image"),
    ],
)
def test_malformed_specs_give_one_line_errors(text, problem):
    with pytest.raises(NeuroffError, match=problem) as err:
        parse_blocks(text)
    assert "\n" not in str(err.value) and "write e.g." in str(err.value)


# ---------------------------------------------------------------- loss equation


def test_intff_loss_is_the_core_sigma_head_on_summed_goodness():
    g = torch.Generator().manual_seed(0)
    z = torch.rand((6, 40), generator=g, dtype=torch.float64) * 0.6
    s = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    theta = 1.5
    head = HeadParams("sigma", alpha=1.0 / 40, theta=theta * 40)
    torch.testing.assert_close(intff_loss(mean_goodness(z), s, theta), ff_loss(z, s, head))
    # and the softplus form written out
    gm = (z * z).mean(1)
    torch.testing.assert_close(intff_loss(gm, s, theta), torch.where(s > 0, F.softplus(theta - gm), F.softplus(gm - theta)))


# ---------------------------------------------------------------- gradients


def _model(spec_text: str, n_inputs: int, seed: int = 0, **kw) -> IntFFNet:
    return IntFFNet(parse_blocks(spec_text), n_inputs, torch.Generator().manual_seed(seed), **kw).double()


def _global_loss(model: IntFFNet, x: torch.Tensor, s: torch.Tensor, detach: bool) -> torch.Tensor:
    """sum_b L_b written out by hand: optional detach at block boundaries, length-normalised
    block inputs past block 0, the block's layers chained by plain backprop."""
    total, h = 0.0, x
    for b, (modules, layers) in enumerate(zip(model.blocks, model.spec.blocks)):
        h = h.reshape(-1, *model.block_in_shapes[b])
        if detach:
            h = h.detach()
        if b > 0:
            h = h / (h.flatten(1).norm(dim=1).reshape(-1, *([1] * (h.dim() - 1))) + 1e-8)
        for module, layer in zip(modules, layers):
            if isinstance(layer, Dense):
                h = torch.relu(h.flatten(1) @ module.weight.T + module.bias)
            else:
                h = torch.relu(F.conv2d(h, module.weight, module.bias, stride=layer.stride, padding=layer.kernel // 2))
                h = F.max_pool2d(h, layer.pool)
        g = (h.flatten(1) ** 2).mean(1)
        total = total + F.softplus(-(2 * s - 1) * (g - model.threshold)).mean()
    return total


@pytest.mark.parametrize(
    "spec_text, n_inputs",
    [("20,(16,16,16),(12,12)", 20), ("1x8x8,(c4k3p2,c6k3),(10,10)", 64)],
)
def test_intff_gradients_equal_detached_global_backprop(spec_text, n_inputs):
    model = _model(spec_text, n_inputs, threshold=0.05)
    g = torch.Generator().manual_seed(1)
    x_pos = torch.rand((8, n_inputs), generator=g, dtype=torch.float64)
    x_neg = torch.rand((8, n_inputs), generator=g, dtype=torch.float64)
    x, s = torch.cat([x_pos, x_neg]), torch.cat([torch.ones(8), torch.zeros(8)]).double()
    params = list(model.parameters())
    reference = torch.autograd.grad(_global_loss(model, x, s, detach=True), params)
    no_detach = torch.autograd.grad(_global_loss(model, x, s, detach=False), params)
    before = [p.detach().clone() for p in params]
    lr = 0.1
    rule = IntFFRule(model, optimizer="sgd", lr=lr, batch_size=8)
    rule.step(model, Batch(x_pos, g, x_neg=x_neg))
    applied = [(b - p.detach()) / lr for b, p in zip(before, params)]
    for got, want in zip(applied, reference):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-10)
    # the detach matters: without it the first block's gradients change; the last block's cannot
    assert not torch.allclose(reference[0], no_detach[0])
    torch.testing.assert_close(reference[-1], no_detach[-1])


def test_one_layer_blocks_reduce_to_the_core_analog_ff_rule():
    """IntFF with one-layer blocks = the core FF rule (FFAutogradRule on AnalogFFNet) with the sigma
    head alpha = 1/N, theta = N * theta_IntFF: same init, same SGD update, same loss."""
    n, theta, d = 24, 0.3, 30
    common = dict(mode="analog", layers=[n, n, n], optimizer="sgd", analog_lr=0.05, batch_size=16, seed=3)
    ff_model, ff_rule = build(FFConfig(rule="ff", head="sigma", alpha=1.0 / n, theta=theta * n, **common).validate(), d, 10, torch.Generator().manual_seed(3))
    int_model, int_rule = build(FFConfig(rule="intff", intff_threshold=theta, embedding="onehot", **common).validate(), d, 10, torch.Generator().manual_seed(3))
    assert int_model.n_blocks == 3 and int_model.sizes == ff_model.sizes
    for a, b in zip(ff_model.weights, int_model.weights):
        assert torch.equal(a, b)
    g = torch.Generator().manual_seed(4)
    x_pos, x_neg = torch.rand((40, d), generator=g), torch.rand((40, d), generator=g)
    initial = [w.detach().clone() for w in ff_model.weights]
    ff_stats = ff_rule.step(ff_model, Batch(x_pos, g, x_neg=x_neg))
    int_stats = int_rule.step(int_model, Batch(x_pos, g, x_neg=x_neg))
    for a, b in zip(ff_model.parameters(), int_model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    assert int_stats.loss == pytest.approx(ff_stats.loss, rel=1e-5)
    assert all(not torch.allclose(w, w0) for w, w0 in zip(int_model.weights, initial))  # every layer learned


# ---------------------------------------------------------------- model, engine, CLI


def test_block_inputs_are_detached_and_length_normalised():
    model = _model("12,(8,8),(6)", 12)
    x = torch.rand((5, 12), dtype=torch.float64, requires_grad=True)
    outs = model.forward_blocks(x)
    assert [len(o) for o in outs] == [2, 1]
    h1 = model.block_input(outs[0][-1], 1)
    assert not h1.requires_grad
    torch.testing.assert_close(h1.norm(dim=1)[h1.norm(dim=1) > 0], torch.ones_like(h1.norm(dim=1)[h1.norm(dim=1) > 0]))
    assert torch.equal(model.block_input(x, 0), x.detach())
    scores = model.candidate_scores(torch.rand((3, 4, 12), dtype=torch.float64))
    assert scores.shape == (3, 4)
    assert [z.shape[1] for z in model.latents(x)["activations"]] == [8, 8, 6]


def _train(tmp_path=None, **kw):
    config = FFConfig(mode="analog", rule="intff", dataset="digits", batch_size=32, analog_lr=0.01, seed=0, **kw)
    return engine.train(config, out_dir=tmp_path, progress=False)


def test_digits_training_improves_accuracy():
    trained = _train(blocks="64,(100,100),(50,50)", epochs=3)
    accs = [r["test_accuracy"] for r in trained.history]
    assert accs[-1] > 0.75 and accs[-1] > accs[0]


def test_conv_blocks_train_on_digits():
    # the one-hot label sits in the image corner, so the conv block needs its dense layer to read it
    trained = _train(blocks="8x8,(c16k3,64),(32)", embedding="onehot", epochs=4, n_train=800)
    accs = [r["test_accuracy"] for r in trained.history]
    assert accs[-1] > 0.4 and accs[-1] > accs[0]  # chance is 0.1


def test_checkpoint_round_trip_and_resume(tmp_path):
    trained = _train(tmp_path, blocks="64,(40,40),(20)", epochs=1, n_train=300, n_test=100)
    loaded = engine.load_trained(tmp_path / "model.pt")
    x = torch.rand(10, 64)
    assert torch.equal(engine.candidate_scores(trained, x), engine.candidate_scores(loaded, x))
    resumed = engine.train(loaded.config, resume=tmp_path / "model.pt", progress=False)
    assert resumed.epoch == 1  # already at the target
    more = engine.train(FFConfig(epochs=2), out_dir=tmp_path, resume=tmp_path / "model.pt", progress=False)
    assert more.epoch == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rule", "intff", "--mode", "spiking"], "pass --mode analog"),
        (["--rule", "ff", "--mode", "analog", "--blocks", "64,(10)"], "--blocks belongs to the layer spec"),
        (["--rule", "intff", "--mode", "analog", "--blocks", "784,(10)"], "start the spec with 64"),
        (["--rule", "intff", "--mode", "analog", "--blocks", "64,(10"], "unclosed"),
        (["--rule", "intff", "--mode", "analog", "--blocks", "8x8,(c4k3)"], "--embedding onehot"),
        (["--rule", "intff", "--mode", "analog", "--blocks", "64,(10),(10)", "--score-layers", "2"], "score blocks"),
    ],
)
def test_cli_errors_are_one_line(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--quiet", "--epochs", "1", "--n-train", "50", "--n-test", "20", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("neuroff: error:")


def test_cli_trains_intff(tmp_path, capsys):
    main_args = ["train", "--rule", "intff", "--mode", "analog", "--blocks", "64,(32,32),(16)", "--batch-size", "32",
                 "--epochs", "1", "--n-train", "200", "--n-test", "50", "--quiet", "--out", str(tmp_path)]
    with pytest.raises(SystemExit) as exit_info:
        main(main_args)
    assert exit_info.value.code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["epochs"] == 1 and 0.0 <= out["test_accuracy"] <= 1.0
    assert json.loads((tmp_path / "metrics.json").read_text())["config"]["blocks"] == "64,(32,32),(16)"




def test_lr_decay_scales_every_block():
    trained = _train(blocks="64,(16,16),(8)", epochs=2, n_train=100, n_test=20, lr_decay=0.5)
    assert [g["lr"] for opt in trained.rule.optimizers for g in opt.param_groups] == [0.005, 0.005]


def test_normalize_first_normalises_block_zero_input_too():
    """--intff-normalize-first: block 0 sees the length-normalised embedded input, as the paper's every block."""
    from neuroff.families.intff.model import IntFFNet
    from neuroff.layers.spec import parse_blocks

    model = IntFFNet(parse_blocks("12,(8,8),(6)"), 12, torch.Generator().manual_seed(0), normalize_first=True)
    x = torch.rand((5, 12), dtype=torch.float64) * 3
    h0 = model.block_input(x, 0)
    torch.testing.assert_close(h0.norm(dim=1), torch.ones(5, dtype=torch.float64))
    assert torch.equal(_model("12,(8,8),(6)", 12).block_input(x, 0), x)  # off by default
    config = FFConfig(rule="intff", dataset="digits", blocks="64,(16,16),(16)", intff_normalize_first=True, epochs=1, seed=0)
    assert engine.train(config, progress=False).model.normalize_first
