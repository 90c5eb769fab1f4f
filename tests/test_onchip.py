"""On-chip learning (issue 18): the learning-engine emulator's parts against their definitions,
``train --mode loihi`` end to end, and the one-line refusals of what the chip cannot express.
Lava's own run is compared in tests/test_lava_learning.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neuroff import engine
from neuroff.cli import main
from neuroff.core.loihi_learning import (
    CONN_RANDOM_SEED,
    LEARN_WEIGHT_MAX,
    LEARN_WEIGHT_MIN,
    Y_SEED_OFFSET,
    OnChipNet,
    RandomStreams,
    RuleParams,
    TraceParams,
    m_quantised,
    modulator_table,
    run_emulator,
    table_m,
)
from neuroff.core.loihi_neurons import CubaParams
from neuroff.data import load_dataset
from neuroff.engine.options import FFConfig
from neuroff.errors import NeuroffError
from neuroff.layers.fixed_point import FixedLayer, run_fixed

SIGMA = ["--head", "sigma", "--theta", "5", "--alpha", "0.5"]


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def _net(sizes, tables=None, steps=12, learn_start=5, rule=RuleParams(1, -7, 7)):
    tables = tables or [modulator_table(0.5, 1.0, learn_start, n, 16) for n in sizes[1:]]
    return OnChipNet(4095, 614, 100, TraceParams(614, 19), rule, steps, learn_start, tables)


def test_modulator_table_is_the_quantised_sigmoid():
    window, n, m_scale = 6, 20, 16
    bounds = modulator_table(0.7, 2.0, window, n, m_scale)
    rng = np.random.default_rng(0)
    gs = np.concatenate([rng.integers(0, window * n * 127**2, 300), bounds[1:], bounds[1:] - 1, [0]])
    for g in gs:
        g = int(max(g, 0))
        for positive in (True, False):
            assert table_m(bounds, positive, g) == m_quantised(g, positive, 0.7, 2.0, window, m_scale), (g, positive)


def test_random_streams_are_lavas_sequential_draws():
    """Lava draws one number at a time: TraceRandom (seed + 2) twice per step after one at
    construction; ConnVarRandom (seed 2) once per learning step after one at construction."""
    streams = RandomStreams(1234)
    r_y, r_w = streams.take(5)
    r_y2, r_w2 = streams.take(3)  # continuing in chunks gives the same stream
    y = np.random.default_rng(1234 + Y_SEED_OFFSET)
    w = np.random.default_rng(CONN_RANDOM_SEED)
    y.random(1), w.random(1)
    want_y, want_w = [], []
    for _ in range(8):
        y.random(1)
        want_y.append(y.random(1)[0])
        want_w.append(w.random(1)[0])
    assert np.concatenate([r_y, r_y2]).tolist() == want_y and np.concatenate([r_w, r_w2]).tolist() == want_w


def test_without_a_third_factor_the_network_is_the_cuba_reference_one_dense_delay_later():
    """M = 0 (a table that sends 0): no weight changes, and each layer's spikes are neuroff's
    fixed-point stack (aligned time) delayed by one step per layer, the input's last step unseen."""
    rng = np.random.default_rng(3)
    sizes, steps = [30, 12, 8], 16
    zero = np.zeros(17, np.int64)
    zero[0] = 16  # positive presentations get q = 0
    net = _net(sizes, [zero, zero], steps=steps)
    weights = [2 * rng.integers(-40, 60, size=(n, d)) for d, n in zip(sizes[:-1], sizes[1:])]
    before = [w.copy() for w in weights]
    spikes = (rng.random((3, steps, sizes[0])) < 0.3).astype(np.uint8)
    res = run_emulator(net, weights, spikes, np.ones(3, np.uint8), RandomStreams(1), record=True)
    assert all(np.array_equal(a, b) for a, b in zip(weights, before))
    layers = [FixedLayer(torch.from_numpy(w), CubaParams(du=4095, dv=614, vth=100), 1.0) for w in weights]
    ref, _ = run_fixed(layers, torch.from_numpy(spikes).permute(1, 0, 2))
    off = 0
    for i, r in enumerate(ref):
        n = sizes[i + 1]
        got = res.spikes[:, :, off : off + n]
        want = r.permute(1, 0, 2).numpy()
        assert int(want[:, : steps - 2].sum()) > 10
        # layer i fires at tau + i + 1 what the aligned reference fires at tau
        assert np.array_equal(got[:, i + 1 :], want[:, : steps - i - 1])
        off += n


def test_learning_changes_only_synapses_whose_input_spiked_and_saturates():
    rng = np.random.default_rng(4)
    sizes, steps = [20, 6], 10
    net = _net(sizes, steps=steps, learn_start=2, rule=RuleParams(7, 8, 1))  # the largest rate the engine has
    w = np.full((6, 20), 250, np.int64)
    w[:, :10] = -250
    spikes = (rng.random((2, steps, 20)) < 0.5).astype(np.uint8)
    spikes[:, :, 15:] = 0  # inputs 15.. never spike: their synapses cannot change
    res = run_emulator(net, [w], spikes, np.array([1, 0], np.uint8), RandomStreams(2))
    assert (w[:, 15:] == 250).all()
    assert w.min() >= LEARN_WEIGHT_MIN and w.max() <= LEARN_WEIGHT_MAX
    assert (w == LEARN_WEIGHT_MAX).any() or (w == LEARN_WEIGHT_MIN).any()  # saturated, not wrapped
    assert res.m[0, 0] > 0 and res.m[1, 0] < 0


def test_train_mode_loihi_saves_integer_weights_that_export_and_evaluate(tmp_path, capsys):
    run = ["train", "--mode", "loihi", *SIGMA, "--layers", "20", "--n-train", "120", "--n-test", "40", "--epochs", "1", "--quiet"]
    code, out, err = _run([*run, "--out", str(tmp_path / "a")], capsys)
    assert code == 0, err
    trained = engine.load_trained(tmp_path / "a" / "model.pt")
    w_int = trained.model.int_weights[0]
    assert w_int.dtype == torch.int64 and (w_int % 2 != 0).any()  # learned: odd integers appear
    assert torch.allclose(trained.model.weights[0] * trained.model.k, w_int.double())
    code, out, err = _run(["evaluate", str(tmp_path / "a"), "--n-test", "40"], capsys)
    assert code == 0 and json.loads(out)["test_accuracy"] == pytest.approx(trained.history[-1]["test_accuracy"])
    code, out, err = _run(["export", str(tmp_path / "a"), "--target", "loihi", "-o", str(tmp_path / "m.net"), "--quiet", "--allow-silent"], capsys)
    assert code == 0, err
    assert "on-chip learning cost" in out and (tmp_path / "m.net").is_file()


@pytest.mark.parametrize(
    "argv, needles",
    [
        (["--head", "sym"], ["--head sym", "sigma"]),
        (["--head", "sigma", "--reset", "subtract"], ["--reset subtract", "resets to zero"]),
        (["--head", "sigma", "--trace", "count"], ["--trace count", "leaky"]),
        (["--head", "sigma", "--onchip-lr-exponent", "-9"], ["--onchip-lr-exponent -9", "[-7, 8]"]),
        (["--head", "sigma", "--onchip-lr-mantissa", "9"], ["--onchip-lr-mantissa 9", "1..7"]),
        (["--head", "sigma", "--onchip-m-scale", "200"], ["--onchip-m-scale 200", "7-bit"]),
        (["--head", "sigma", "--batch-size", "8"], ["--batch-size 8", "online"]),
        (["--init-scale", "40"], ["layer 0's initial weights", "[-256, 255]", "lower --onchip-vth or --init-scale"]),
    ],
)
def test_what_the_chip_cannot_express_is_a_one_line_error(argv, needles, tmp_path, capsys):
    code, _, err = _run(["train", "--mode", "loihi", "--layers", "8", "--n-train", "20", "--epochs", "1", "--quiet",
                         "--out", str(tmp_path), *argv], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("neuroff: error: "), err
    for needle in needles:
        assert needle in lines[0]


def test_run_lava_learn_refuses_unrepresentable_weights_and_other_families(tmp_path, capsys):
    code, _, err = _run(["train", "--mode", "spiking", *SIGMA, "--layers", "8", "--n-train", "10", "--n-test", "10", "--epochs", "1",
                         "--quiet", "--init-scale", "40", "--out", str(tmp_path / "big")], capsys)
    assert code == 0, err
    code, _, err = _run(["run-lava", "--learn", str(tmp_path / "big"), "--samples", "1", "--lava-venv", str(tmp_path / "venv")], capsys)
    assert code == 2 and "learning synapses hold integers in [-256, 255]" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(["train", "--mode", "analog", "--layers", "8", "--n-train", "10", "--n-test", "10", "--epochs", "1", "--quiet",
                         "--out", str(tmp_path / "an")], capsys)
    code, _, err = _run(["run-lava", "--learn", str(tmp_path / "an"), "--samples", "1", "--lava-venv", str(tmp_path / "venv")], capsys)
    assert code == 2 and "--mode loihi or --mode spiking" in err


def test_deeper_layers_scaled_to_their_input_rate_in_the_integer_weights_too() -> None:
    """--init-rate-scaling multiplies layer 1's float weights; the integer weights the emulator
    trains carry the same scaling, so the float weights stay integer / k."""
    import torch

    from neuroff.engine.options import FFConfig
    from neuroff.families.ff.onchip import OnChipFFNet

    config = FFConfig(mode="loihi", head="sigma", layers=[50, 50], dataset="digits", onchip_vth=256).validate()
    model = OnChipFFNet(config, 74, torch.Generator().manual_seed(0))
    before = model.int_weights[1].clone()
    (factor,) = model.scale_to_input_rates(model.encode(torch.rand(64, 74, generator=torch.Generator().manual_seed(1)),
                                                        torch.Generator().manual_seed(2)))
    assert factor > 1.5  # layer 1's input (layer 0's spikes) is sparser than the pixels
    assert float(model.int_weights[1].abs().double().mean()) > 1.5 * float(before.abs().double().mean())
    for w, w_int in zip(model.weights, model.int_weights):
        assert torch.equal(w, w_int.to(torch.float64) / model.k)


def test_loihi_mode_defaults_to_the_sigma_head_and_other_families_forget_an_unread_head() -> None:
    """The modulator sends one M per layer, the sigma head's: --mode loihi needs no --head. A config
    saved when --head defaulted to "sym" for every family loads for a family without a head."""
    from neuroff.engine.options import FFConfig

    assert FFConfig(mode="loihi").validate().head == "sigma"
    assert FFConfig(mode="spiking").validate().head == "sym"
    assert FFConfig(mode="analog").validate().head == "sym"
    stored = FFConfig(rule="scff", mode="spiking", head="sym")
    with pytest.raises(NeuroffError, match="--head"):
        FFConfig.from_dict(stored.to_dict()).validate()
    assert FFConfig.from_dict(stored.to_dict()).reset_unread().validate().head is None
    assert FFConfig(rule="ff", mode="spiking", head="sigma").reset_unread().head == "sigma"  # read: kept


def test_run_lava_config_belongs_to_learn_fresh(tmp_path, capsys):
    code, _, err = _run(["train", "--mode", "loihi", "--layers", "8", "--n-train", "10", "--n-test", "10", "--epochs", "1",
                         "--quiet", "--out", str(tmp_path / "a")], capsys)
    assert code == 0, err
    (tmp_path / "c.json").write_text("{}")
    venv = ["--lava-venv", str(tmp_path / "venv")]
    code, _, err = _run(["run-lava", "--learn", str(tmp_path / "a"), "--config", str(tmp_path / "c.json"), *venv], capsys)
    assert code == 2 and "drop --config, or use --learn fresh" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(["run-lava", "model.net", "--config", str(tmp_path / "c.json"), *venv], capsys)
    assert code == 2 and "--config applies only to --learn fresh" in err
    (tmp_path / "bad.json").write_text('{"mode": "loihi", "head": "sym"}')
    code, _, err = _run(["run-lava", "--learn", "fresh", "--config", str(tmp_path / "bad.json"), *venv], capsys)
    assert code == 2 and "--head sym" in err and len(err.strip().splitlines()) == 1


def test_loading_an_onchip_checkpoint_checks_its_weights_not_a_fresh_draw(tmp_path, capsys):
    """The initial-weight range is checked once, for a fresh network: a checkpoint loads on its own
    integer weights even where a fresh draw of its configuration would not fit."""
    code, _, err = _run(["train", "--mode", "loihi", "--layers", "8", "--n-train", "20", "--n-test", "10", "--epochs", "1",
                         "--quiet", "--out", str(tmp_path / "a")], capsys)
    assert code == 0, err
    ckpt = torch.load(tmp_path / "a" / "model.pt", weights_only=False)
    ckpt["config"]["onchip_vth"] = 16000  # a fresh draw at this k reaches far beyond [-256, 255]
    torch.save(ckpt, tmp_path / "a" / "model.pt")
    with pytest.raises(NeuroffError, match="initial weights"):
        engine.create(FFConfig(mode="loihi", layers=[8], onchip_vth=16000).validate(), load_dataset("digits", seed=0))
    loaded = engine.load_trained(tmp_path / "a")
    assert int(loaded.model.int_weights[0].abs().max()) <= 256


def test_a_checkpoint_from_before_the_m_timing_option_keeps_the_window_timing(tmp_path, capsys):
    """--onchip-m-timing's default is step; a checkpoint written before the option existed was
    trained with one M per presentation, and continues (or runs in Lava) with that timing."""
    code, _, err = _run(["train", "--mode", "loihi", "--layers", "8", "--n-train", "20", "--n-test", "10", "--epochs", "1",
                         "--quiet", "--out", str(tmp_path / "a")], capsys)
    assert code == 0, err
    assert engine.load_trained(tmp_path / "a").model.net.m_timing == "step"
    ckpt = torch.load(tmp_path / "a" / "model.pt", weights_only=False)
    del ckpt["config"]["onchip_m_timing"]
    torch.save(ckpt, tmp_path / "a" / "model.pt")
    loaded = engine.load_trained(tmp_path / "a")
    assert loaded.config.onchip_m_timing == "window" and loaded.model.net.m_timing == "window"


@pytest.mark.parametrize("m_timing", ["window", "step"])
@pytest.mark.parametrize("learn_start", [5, 11])
def test_the_modulator_reads_the_goodness_of_its_timing(m_timing, learn_start):
    """The last M a presentation sends, recomputed from the recorded spikes with the 7-bit trace:
    the table's value for the goodness summed over steps [0, learn_start) (window), or for the
    goodness of step T - 2, the last M that reaches a learning step (step). learn_start = T - 1
    leaves one step, learn_start - 1 = T - 2, at which the step timing computes M: a range that
    started a step late would send none."""
    from neuroff.core.loihi_learning import modulator_window

    rng = np.random.default_rng(5)
    sizes, steps = [30, 12], 12
    tables = [modulator_table(0.5, 1.0, modulator_window(m_timing, learn_start), 12, 16)]
    net = _net(sizes, tables=tables, steps=steps, learn_start=learn_start)._replace(m_timing=m_timing)
    w = rng.integers(-60, 120, (12, 30)).astype(np.int64)
    spikes = (rng.random((4, steps, 30)) < 0.4).astype(np.uint8)
    positive = np.array([1, 0, 1, 0], np.uint8)
    res = run_emulator(net, [w], spikes, positive, RandomStreams(3), record=True)
    dz, imp = net.trace
    for p in range(4):
        z, g_window, g_last = np.zeros(12, np.int64), 0, 0
        for tau in range(steps - 1):
            z = np.minimum(127, ((z * (4096 - dz)) >> 12) + imp * res.spikes[p, tau].astype(np.int64))
            g_window += int((z * z).sum()) if tau < learn_start else 0
            g_last = int((z * z).sum())
        want = table_m(tables[0], bool(positive[p]), g_window if m_timing == "window" else g_last)
        assert res.m[p, 0] == want and res.g[p, 0] == g_window
    assert (res.m != 0).all()
