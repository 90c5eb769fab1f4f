"""NIR export: file round trip, and identical spikes after import into snnTorch and Norse."""

import contextlib
import dataclasses
import io

import nir
import numpy as np
import pytest
import torch

from neuroff.cli import main
from neuroff.engine.options import FFConfig
from neuroff.data.pairing import make_label_embedding
from neuroff.engine.training import Trained, save_trained
from neuroff.families.ff.spiking_rule import NeoHebbianRule
from neuroff.errors import NeuroffError
from neuroff.export.nir import DEFAULT_DT, export_nir, load_norse, nir_dt
from neuroff.layers.lif_stack import SpikingFFNet
from neuroff.layers.fixed_point import run_float

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained():
    cfg = FFConfig(layers=[40, 20], init_scale=5.0, beta=0.8, threshold=1.2).validate()
    g = torch.Generator().manual_seed(0)
    return Trained(cfg, SpikingFFNet(cfg, 30, g), make_label_embedding("code", 3, 4, 0.3, 0), rule=None, generator=g)


@pytest.fixture(scope="module")
def spikes():
    return (torch.rand(25, 16, 30, generator=torch.Generator().manual_seed(1)) < 0.3).float()


def test_round_trip_through_the_file(trained, tmp_path):
    path = export_nir(trained, tmp_path / "model.nir", dt=2e-3)
    g = nir.read(str(path))
    assert set(g.nodes) == {"input", "linear0", "lif0", "linear1", "lif1", "output"}
    assert ("lif0", "linear1") in g.edges and ("lif1", "output") in g.edges
    np.testing.assert_array_equal(g.nodes["linear0"].weight, trained.model.weights[0].numpy())
    lif = g.nodes["lif1"]
    np.testing.assert_allclose(lif.tau, 2e-3 / 0.2)  # dt / (1 - beta)
    np.testing.assert_allclose(lif.r, 5.0)  # tau / dt
    np.testing.assert_array_equal(lif.v_threshold, 1.2)
    np.testing.assert_array_equal(lif.v_reset, 0.0)
    np.testing.assert_array_equal(lif.v_leak, 0.0)
    assert nir_dt(g) == pytest.approx(2e-3)


def _run_steps(net_step, spikes):
    return torch.stack([net_step(spikes[t]) for t in range(spikes.shape[0])])


def test_snntorch_import_gives_identical_spikes(trained, spikes, tmp_path):
    from snntorch.import_nir import import_from_nir

    g = nir.read(str(export_nir(trained, tmp_path / "model.nir")))
    assert nir_dt(g) == DEFAULT_DT  # snnTorch's importer assumes dt = 1e-4
    with contextlib.redirect_stdout(io.StringIO()):
        net = import_from_nir(g)
    out = _run_steps(lambda x: net(x)[0], spikes)  # returns (spikes, state); hidden state lives in the modules
    ref = run_float(trained.model, spikes)[-1]
    assert int(ref.sum()) > 30
    assert torch.equal(out.double(), ref)


def test_norse_import_gives_identical_spikes(trained, spikes, tmp_path):
    pytest.importorskip("norse", reason="Norse not installed (make venv installs it with --no-deps)")
    g = nir.read(str(export_nir(trained, tmp_path / "model.nir", dt=1e-3)))
    net = load_norse(g)
    state = [None]

    def step(x):
        out, state[0] = net(x, state[0])
        return out

    out = _run_steps(step, spikes)
    assert torch.equal(out.double(), run_float(trained.model, spikes)[-1])


def test_unexportable_fails_without_a_file(trained, tmp_path):
    for change in ({"reset": "subtract"}, {"beta": 1.0}, {"refractory": 1}):
        bad = dataclasses.replace(trained, config=dataclasses.replace(trained.config, **change))
        with pytest.raises(NeuroffError):
            export_nir(bad, tmp_path / "x.nir")
    with pytest.raises(NeuroffError, match="dt"):
        export_nir(trained, tmp_path / "x.nir", dt=0.0)
    assert list(tmp_path.iterdir()) == []


def test_cli_export_nir(tmp_path, capsys):
    cfg = FFConfig(layers=[10]).validate()
    g = torch.Generator().manual_seed(0)
    t = Trained(cfg, SpikingFFNet(cfg, 74, g), make_label_embedding("code", 10, 10, 0.3, 0), rule=NeoHebbianRule(), generator=g)
    save_trained(t, tmp_path / "model.pt")
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--target", "nir", str(tmp_path / "model.pt"), "-o", str(tmp_path / "model.nir")])
    assert exit_info.value.code == 0
    assert set(nir.read(str(tmp_path / "model.nir")).nodes) == {"input", "linear0", "lif0", "output"}
