"""`neuroff import`: NIR graphs (neuroff's own, snnTorch's and Norse's conventions) as neuroff
checkpoints; the round trip neuroff -> NIR -> neuroff; graphs neuroff cannot represent refused
on one line."""

import contextlib
import io

import h5py
import nir
import numpy as np
import pytest
import torch

from neuroff import engine
from neuroff.cli import main
from neuroff.data import load_dataset
from neuroff.data.pairing import make_label_embedding
from neuroff.engine.options import FFConfig
from neuroff.engine.training import Trained
from neuroff.export.nir import export_nir
from neuroff.families.ff.spiking_rule import NeoHebbianRule
from neuroff.layers.fixed_point import run_float
from neuroff.layers.lif_stack import SpikingFFNet


@pytest.fixture(scope="module")
def trained():
    """A seeded 2-layer digits FF net (74 = 64 pixels + 10 code bits), both layers firing."""
    cfg = FFConfig(dataset="digits", layers=[40, 20], init_scale=5.0, beta=0.8, threshold=1.2, code_bits=10, n_train=100, n_test=40).validate()
    g = torch.Generator().manual_seed(0)
    return Trained(cfg, SpikingFFNet(cfg, 74, g), make_label_embedding("code", 10, 10, 0.3, 0), rule=NeoHebbianRule(), generator=g)


def cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in argv])
    return exit_info.value.code, out.getvalue(), err.getvalue()


def presentation_spikes(trained, n=120):
    ds = load_dataset("digits", seed=0).subset(None, n)
    return trained.model.encode(trained.embedding.embed(ds.x_test, ds.y_test), torch.Generator().manual_seed(1))


@pytest.mark.parametrize("variant", ["generic", "snntorch", "norse"])
def test_round_trip_gives_identical_weights_and_spikes(trained, tmp_path, variant):
    path = export_nir(trained, tmp_path / "model.nir", variant=variant)
    code, _, err = cli("import", path, "-o", tmp_path / "back")
    assert code == 0, err
    back = engine.load_trained(tmp_path / "back")
    assert back.config.to_dict() == trained.config.to_dict()
    assert torch.equal(back.embedding.codes, trained.embedding.codes) and back.epoch == 0
    for a, b in zip(trained.model.weights, back.model.weights):
        if variant == "norse":  # W / (1 - beta) * (dt / tau): the weights come back within rounding
            torch.testing.assert_close(a, b, rtol=1e-14, atol=0)
        else:
            assert torch.equal(a, b)
    spikes = presentation_spikes(trained)
    ref, got = run_float(trained.model, spikes), run_float(back.model, spikes)
    assert all(int(r.sum()) > 100 for r in ref)  # both layers fire
    assert all(torch.equal(r, g) for r, g in zip(ref, got))


def _lif(n, dt, beta, threshold=1.0, r=None, **kw):
    tau = dt / (1 - beta)
    return nir.LIF(tau=np.full(n, tau), r=np.full(n, tau / dt if r is None else r), v_leak=np.zeros(n),
                   v_threshold=np.full(n, threshold), v_reset=np.zeros(n), **kw)


def _graph(layers, n_in=64):
    nodes, edges, prev = {"input": nir.Input(input_type=np.array([n_in]))}, [], "input"
    for i, (weight_node, neuron) in enumerate(layers):
        nodes[f"fc{i}"], nodes[f"lif{i}"] = weight_node, neuron
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"lif{i}")]
        prev = f"lif{i}"
    nodes["output"] = nir.Output(output_type=np.array([layers[-1][0].weight.shape[0]]))
    return nir.NIRGraph(nodes=nodes, edges=edges + [(prev, "output")], type_check=False)


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.4, (30, 64)).astype(np.float32), rng.normal(0, 0.6, (10, 30)).astype(np.float32)


def _input_spikes(n=120, steps=20):
    ds = load_dataset("digits", seed=0).subset(None, n)
    return (torch.rand(steps, n, 64, generator=torch.Generator().manual_seed(2)) < ds.x_test).float()


def test_snntorch_convention_graph_matches_snntorch(tmp_path):
    """A graph as snnTorch writes it (dt 1e-4, r = tau/dt; a Synaptic layer as a CubaLIF whose
    current does not persist, alpha = 0), with per-layer thresholds: neuroff's import and
    snnTorch's own import_from_nir give the same spikes."""
    from snntorch.import_nir import import_from_nir

    dt, beta = 1e-4, np.float32(0.9)
    w1, w2 = _weights()
    tau = dt / (1 - beta)
    cuba = nir.CubaLIF(tau_syn=np.full(10, dt), tau_mem=np.full(10, tau), r=np.full(10, tau / dt), v_leak=np.zeros(10),
                       v_threshold=np.full(10, 0.8), w_in=np.ones(10))
    graph = _graph([(nir.Linear(weight=w1), _lif(30, dt, beta)), (nir.Affine(weight=w2, bias=np.zeros(10, np.float32)), cuba)])
    nir.write(tmp_path / "snn.nir", graph)
    code, _, err = cli("import", tmp_path / "snn.nir", "-o", tmp_path / "run", "--dataset", "digits", "--dt", "1e-4")
    assert code == 0, err
    imported = engine.load_trained(tmp_path / "run")
    assert imported.config.rule == "scff" and imported.embedding.kind == "none"  # a plain feature network
    spikes = _input_spikes()
    with contextlib.redirect_stdout(io.StringIO()):
        module = import_from_nir(nir.read(tmp_path / "snn.nir"))
    theirs = torch.stack([module(spikes[t])[0] for t in range(spikes.shape[0])])
    ours = run_float(imported.model, spikes)
    assert int(ours[0].sum()) > 100 and int(ours[1].sum()) > 50
    assert torch.equal(theirs.double(), ours[-1])


def test_norse_convention_graph_matches_norse(tmp_path):
    """A graph in Norse's convention (r = 1, stepped at dt 1e-3) matches norse.torch.from_nir."""
    norse_torch = pytest.importorskip("norse.torch")
    dt, beta = 1e-3, 0.85
    w1, w2 = _weights(1)
    graph = _graph([(nir.Linear(weight=w1 * 8), _lif(30, dt, beta, r=1.0)), (nir.Linear(weight=w2 * 8), _lif(10, dt, beta, r=1.0))])
    nir.write(tmp_path / "norse.nir", graph)
    assert cli("import", tmp_path / "norse.nir", "-o", tmp_path / "run", "--dataset", "digits", "--dt", "1e-3")[0] == 0
    imported = engine.load_trained(tmp_path / "run")
    spikes = _input_spikes()
    module = norse_torch.from_nir(nir.read(tmp_path / "norse.nir"), dt=dt)
    state, theirs = None, []
    for t in range(spikes.shape[0]):
        z, state = module(spikes[t], state)
        theirs.append(z)
    ours = run_float(imported.model, spikes)
    assert int(ours[0].sum()) > 100 and int(ours[1].sum()) > 50
    assert torch.equal(torch.stack(theirs).double(), ours[-1])


def test_imported_checkpoint_evaluates_exports_and_resumes(trained, tmp_path):
    export_nir(trained, tmp_path / "model.nir")
    assert cli("import", tmp_path / "model.nir", "-o", tmp_path / "run", "--epochs", "1")[0] == 0
    # compare gives it no untrained twin: its start is the graph maker's, not neuroff's initialisation
    from neuroff.latents.collection import imported_from

    assert imported_from(tmp_path / "run" / "model.pt") == str((tmp_path / "model.nir").resolve())
    assert imported_from(tmp_path / "nowhere" / "model.pt") is None
    code, out, _ = cli("evaluate", tmp_path / "run", "--quiet")
    assert code == 0 and '"test_accuracy"' in out
    code, _, err = cli("export", "--target", "loihi", tmp_path / "run", "-o", tmp_path / "model.net", "--quiet", "--check-samples", "10")
    assert code == 0, err
    code, out, err = cli("train", "--resume", tmp_path / "run", "--out", tmp_path / "run", "--epochs", "2", "--quiet")
    assert code == 0, err
    resumed = engine.load_trained(tmp_path / "run")
    assert resumed.epoch == 2 and not torch.equal(resumed.model.weights[0], trained.model.weights[0])  # fine-tuned


def _bad_graphs(tmp_path):
    dt, beta = 1e-4, 0.9
    w1, w2 = _weights()
    ok = lambda: [(nir.Linear(weight=w1), _lif(30, dt, beta)), (nir.Linear(weight=w2), _lif(10, dt, beta))]
    conv = _graph(ok())
    conv.nodes["fc1"] = nir.Conv2d(input_shape=(8, 8), weight=np.ones((2, 1, 3, 3)), stride=1, padding=0, dilation=1, groups=1, bias=np.zeros(2))
    loop = _graph(ok())
    loop.edges.append(("lif1", "fc1"))
    missing = _graph(ok())
    missing.edges.remove(("fc1", "lif1"))
    shapes = _graph([(nir.Linear(weight=w1), _lif(30, dt, beta)), (nir.Linear(weight=w2[:, :20]), _lif(10, dt, beta))])
    leaky = _graph([(nir.Linear(weight=w1), _lif(30, dt, beta)), (nir.Linear(weight=w2), nir.LIF(
        tau=np.full(10, 1e-3), r=np.ones(10), v_leak=np.full(10, 0.1), v_threshold=np.ones(10), v_reset=np.zeros(10)))])
    cuba = _graph([(nir.Linear(weight=w1), _lif(30, dt, beta)), (nir.Linear(weight=w2), nir.CubaLIF(
        tau_syn=np.full(10, 5e-4), tau_mem=np.full(10, 1e-3), r=np.ones(10), v_leak=np.zeros(10), v_threshold=np.ones(10)))])
    two_betas = _graph([(nir.Linear(weight=w1), _lif(30, dt, beta)), (nir.Linear(weight=w2), _lif(10, dt, 0.5))])
    biased = _graph([(nir.Affine(weight=w1, bias=np.ones(30)), _lif(30, dt, beta)), (nir.Linear(weight=w2), _lif(10, dt, beta))])
    return {
        "conv": (conv, "'fc1' is a Conv2d"),
        "recurrence": (loop, "loop: recurrence"),
        "missing edge": (missing, "'fc1' has no outgoing edge (a missing edge)"),
        "mismatched shapes": (shapes, "'fc1' takes 20 inputs but 'lif0' gives 30 (mismatched shapes)"),
        "leak": (leaky, "'lif1' leaks towards v_leak != 0"),
        "persistent current": (cuba, "'lif1' is a CubaLIF whose synaptic current persists"),
        "two leaks": (two_betas, "'lif1' has another leak"),
        "bias": (biased, "'fc0' has a bias"),
    }


def test_unsupported_graphs_are_refused_on_one_line(tmp_path):
    for name, (graph, expected) in _bad_graphs(tmp_path).items():
        path = tmp_path / f"{name.replace(' ', '_')}.nir"
        nir.write(path, graph)
        code, _, err = cli("import", path, "-o", tmp_path / "run", "--dataset", "digits", "--dt", "1e-4")
        assert code == 2, name
        assert err.startswith("neuroff: error: ") and err.count("\n") == 1, err
        assert expected in err, (name, err)
    assert not (tmp_path / "run").exists()  # refused before anything is written


def test_files_that_are_not_nir_graphs(trained, tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("x", data=np.ones(3))
    (tmp_path / "text.nir").write_text("not a graph\n")
    export_nir(trained, tmp_path / "model.nir")
    cases = {
        tmp_path / "other.h5": "not a NIR graph",
        tmp_path / "text.nir": "not a NIR file (not HDF5)",
        tmp_path / "absent.nir": "not found",
    }
    for path, expected in cases.items():
        code, _, err = cli("import", path, "-o", tmp_path / "run")
        assert code == 2 and err.count("\n") == 1 and expected in err, err
    for extra, expected in ((["--code-bits", "20"], "the graph takes 74 inputs but --dataset digits gives 64 features + 20"), (["--beta", "0.5"], "--beta 0.5 differs from the graph's 0.8"),
                            (["--rule", "intff"], "spiking ff or scff")):
        code, _, err = cli("import", tmp_path / "model.nir", "-o", tmp_path / "run", *extra)
        assert code == 2 and err.count("\n") == 1 and expected in err, err
    graph = _graph([(nir.Linear(weight=_weights()[0]), _lif(30, 1e-4, 0.9))])
    graph.metadata = {}
    nir.write(tmp_path / "no_dt.nir", graph)
    code, _, err = cli("import", tmp_path / "no_dt.nir", "-o", tmp_path / "run", "--dataset", "digits")
    assert code == 2 and "pass --dt" in err
    graph.metadata = {"dt": "abc"}  # damaged metadata: one line, not an internal error
    nir.write(tmp_path / "bad_dt.nir", graph)
    code, _, err = cli("import", tmp_path / "bad_dt.nir", "-o", tmp_path / "run", "--dataset", "digits")
    assert code == 2 and err.count("\n") == 1 and "'dt' is 'abc', not a number" in err, err
    assert not (tmp_path / "run").exists()


def test_a_file_written_before_a_default_became_the_familys_imports(trained, tmp_path):
    """Files record every option; those the family never reads carry the writer's declared
    defaults (--analog-lr was 0.003 for every family before it became per-family): not a choice."""
    path = export_nir(trained, tmp_path / "model.nir")
    graph = nir.read(path)
    config = {**trained.config.to_dict(), "analog_lr": 0.003}
    graph.metadata["neuroff_config"] = __import__("json").dumps(config)
    nir.write(tmp_path / "old.nir", graph)
    code, _, err = cli("import", tmp_path / "old.nir", "-o", tmp_path / "back")
    assert code == 0, err
    assert engine.load_trained(tmp_path / "back").config.analog_lr is None
