"""Loihi fixed-point CUBA arithmetic: hand-computed golden steps and register limits."""

import pytest
import torch

from neuroff.engine.options import FFConfig
from neuroff.errors import NeuroffError
from neuroff.layers.lif_stack import SpikingFFNet
from neuroff.layers.fixed_point import FixedLayer, FixedPointSpikingNet, decode_rasters, run_fixed, run_float
from neuroff.core.loihi_neurons import (
    CubaParams,
    CubaState,
    check_cuba_params,
    check_weights,
    cuba_step,
    decay,
    dense_activation,
)


def state(u, v):
    return CubaState(torch.tensor([u], dtype=torch.int64), torch.tensor([v], dtype=torch.int64))


def step(a, u, v, **params):
    s, st = cuba_step(torch.tensor([a], dtype=torch.int64), state(u, v), CubaParams(**params))
    return int(s[0]), int(st.u[0]), int(st.v[0])


def test_decay_rounds_toward_zero():
    # 1000 * 3482 / 4096 = 850.098 -> 850; -1000 -> -850 (not floor's -851)
    assert decay(torch.tensor([1000, -1000]), 614).tolist() == [850, -850]
    assert decay(torch.tensor([1000]), 2048).tolist() == [500]
    assert decay(torch.tensor([123456]), 4096).tolist() == [0]


def test_step_golden_values():
    # du = 4095 -> du_eff 4096: u is the new input only; v = 850 + (3 << 6) = 1042, below 20 << 6 = 1280
    assert step(3, 999, 1000, du=4095, dv=614, vth=20) == (0, 192, 1042)
    # v = 850 + (7 << 6) = 1298 > 1280: spike, v reset to 0, u kept
    assert step(7, 0, 1000, du=4095, dv=614, vth=20) == (1, 448, 0)
    # exactly at threshold does not fire (strictly greater): 0 + (20 << 6) = 1280
    assert step(20, 0, 0, du=4095, dv=614, vth=20) == (0, 1280, 1280)
    # a persistent current: du = 2047 halves u each step: u = 500 + 64, v = 0 + 564
    assert step(1, 1000, 0, du=2047, dv=0, vth=100) == (0, 564, 564)
    # bias: (3 << 6) added to v every step
    assert step(0, 0, 0, du=4095, dv=614, vth=100, bias_mant=3, bias_exp=6) == (0, 0, 192)


def test_current_wraps_and_voltage_saturates():
    # u = T0((2**23 - 1) * 4095) + (40 << 6) = 8386559 + 2560 = 8389119 > 2**23 -> wraps to -8388097
    s, u, v = step(40, 2**23 - 1, 0, du=0, dv=0, vth=131071)
    assert u == -8388097 and s == 0
    # v saturates at 2**23 - 1 (vth at its 17-bit maximum, 131071 << 6 = 8388544 < v: it fires)
    s, u, v = step(2000, 0, 2**23 - 1, du=4095, dv=0, vth=131071)
    assert s == 1 and v == 0
    s, u, v = step(-2000, 0, -(2**23 - 1), du=4095, dv=0, vth=10)
    assert v == -(2**23 - 1) and s == 0


def test_dense_activation_is_exact_integer_sum():
    w = torch.tensor([[254, -256, 2], [0, 4, -6]])
    s = torch.tensor([[1, 1, 0], [1, 0, 1]], dtype=torch.uint8)
    assert dense_activation(w, s).tolist() == [[-2, 4], [256, -6]]


def test_register_limits_raise():
    for bad in (CubaParams(du=4096), CubaParams(dv=-1), CubaParams(vth=1 << 17), CubaParams(bias_mant=4096), CubaParams(bias_exp=8)):
        with pytest.raises(NeuroffError):
            check_cuba_params(bad)
    check_weights(torch.tensor([[-256, 254, 0, 2]]))
    for bad in (torch.tensor([[256]]), torch.tensor([[-258]]), torch.tensor([[3]]), torch.tensor([[2.5]])):
        with pytest.raises(NeuroffError):
            check_weights(bad)


def test_decode_rasters_matches_float_present():
    torch.manual_seed(0)
    cfg = FFConfig(layers=[20, 10], steps=12, learn_start=6, init_scale=6.0).validate()
    g = torch.Generator().manual_seed(1)
    model = SpikingFFNet(cfg, 30, g)
    spikes = (torch.rand(12, 8, 30, generator=g) < 0.4).float()
    rasters = run_float(model, spikes)
    assert sum(int(r.sum()) for r in rasters) > 20  # the network is active
    ours = decode_rasters(rasters, cfg)
    ref = model.present(spikes)
    assert torch.allclose(ours.p_window, ref.p_window.double(), atol=1e-5)
    for a, b in zip(ours.counts, ref.counts):
        assert torch.equal(a, b.double())


def test_fixed_net_interface_and_shapes():
    cfg = FFConfig(layers=[6], steps=5, learn_start=2).validate()
    w = torch.tensor([[2, -4, 6]] * 6, dtype=torch.int64)
    net = FixedPointSpikingNet(cfg, 3, [FixedLayer(w, CubaParams(vth=3), 254.0)])
    assert net.sizes == [3, 6] and net.n_layers == 1
    x_all = torch.rand(4, 2, 3)
    assert net.candidate_scores(x_all, torch.Generator().manual_seed(0)).shape == (4, 2)
    rasters, max_a = run_fixed(net.layers, torch.ones(5, 2, 3))
    # a = 2 - 4 + 6 = 4 -> u = 4 << 6 = 256 > 3 << 6 = 192: fires every step (v reset to 0 each time)
    assert rasters[0][:, 0, 0].tolist() == [1, 1, 1, 1, 1] and max_a == [4]
    with pytest.raises(NeuroffError):
        FixedPointSpikingNet(cfg, 4, [FixedLayer(w, CubaParams(vth=3), 1.0)])


def test_candidate_sums_equal_the_plain_dendritic_sums():
    from neuroff.core.encoding import CandidateSpikes
    from neuroff.layers.fixed_point import candidate_sums

    g = torch.Generator().manual_seed(2)
    w = (torch.randint(-128, 128, (12, 30), generator=g) * 2).to(torch.int64)
    layers = [FixedLayer(w, CubaParams(vth=40), 1.0)]
    shared = torch.rand(9, 5, 1, 30, generator=g).expand(9, 5, 4, 30)  # one draw per (step, sample, input)
    p = torch.cat([torch.rand(1, 22, generator=g).expand(4, 22), torch.rand(4, 8, generator=g)], 1)
    spikes = (shared < p).to(torch.uint8)  # the first 22 inputs spike alike for all 4 candidates
    assert not (spikes[..., :22] != spikes[:, :, :1, :22]).any() and (spikes[..., 22:] != spikes[:, :, :1, 22:]).any()
    plain = run_fixed(layers, spikes.reshape(9, 20, 30))
    varying = torch.arange(22, 30)
    shortcut = run_fixed(layers, CandidateSpikes.from_raster(spikes, varying))
    sums = candidate_sums(w, spikes[3, :, 0], spikes[3][..., varying], varying)
    assert torch.equal(sums, dense_activation(w, spikes[3].reshape(20, 30)))
    assert torch.equal(plain[0][0], shortcut[0][0]) and plain[1] == shortcut[1]


@pytest.mark.parametrize("encoder", ["rate", "latency"])
def test_fixed_candidate_scores_equal_presenting_every_candidate(encoder):
    """The fixed-point read-out encodes only the label features per candidate (``encode_candidates``):
    the scores equal those of the full [T, S, C, D] raster (the float net's draws) run plainly."""
    from neuroff.core.goodness import layers_score

    cfg = FFConfig(layers=[12, 8], steps=10, learn_start=4, encoder=encoder, max_rate=0.8).validate()
    g = torch.Generator().manual_seed(4)
    w0 = (torch.randint(-40, 60, (12, 30), generator=g) * 2).to(torch.int64)
    w1 = (torch.randint(-40, 60, (8, 12), generator=g) * 2).to(torch.int64)
    net = FixedPointSpikingNet(cfg, 30, [FixedLayer(w0, CubaParams(vth=20), 1.0), FixedLayer(w1, CubaParams(vth=20), 1.0)])
    x_all = torch.rand(5, 1, 30, generator=g).repeat(1, 4, 1)
    x_all[:, :, 24:] = torch.rand(5, 4, 6, generator=g)  # the candidates differ on the last 6 features
    ours = net.candidate_scores(x_all, torch.Generator().manual_seed(9))
    full = net.encode(x_all, torch.Generator().manual_seed(9), noise_shape=(5, 1, 30)).reshape(10, 20, 30)
    rasters = run_fixed(net.layers, full)[0]
    assert all(int(r.sum()) > 10 for r in rasters)  # both layers spike
    ref = layers_score(decode_rasters(rasters, cfg).p_window, cfg.score_layers).reshape(5, 4)
    assert torch.equal(ours, ref)
