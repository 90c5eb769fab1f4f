"""NIR files read by the plain libraries: snnTorch 1.0 ``import_from_nir`` and Norse 1.1
``norse.torch.from_nir``, called exactly as a user would (no neuroff wrapper), against neuroff's
float network on 120 presentations of digits test samples (true label embedded), for 1- and
2-layer nets, the sigma head and the latency code; every layer fires."""

import contextlib
import io
import logging

import nir
import numpy as np
import pytest
import torch

from neuroff import engine
from neuroff.cli import main
from neuroff.data import load_dataset
from neuroff.engine.options import FFConfig
from neuroff.export.commands import NIR_VARIANTS
from neuroff.export.nir import (
    DEFAULT_DT,
    NORSE_DT,
    VARIANTS,
    dt_warning,
    export_nir,
    to_nir,
)
from neuroff.layers.fixed_point import run_float

PRESENTATIONS = 120
NETS = {
    "1-layer": {"layers": [60]},
    "2-layer": {"layers": [60, 40]},
    "sigma-head": {"layers": [60, 40], "head": "sigma", "theta": 5.0, "lr": 0.003},  # a theta that keeps layer 0 firing
    "latency": {"layers": [60], "encoder": "latency"},
}


@pytest.fixture(scope="module", params=list(NETS))
def net(request):
    """A briefly trained digits net and its spike trains [T, P, D] (test samples, true labels)."""
    cfg = FFConfig(dataset="digits", epochs=1, n_train=300, n_test=PRESENTATIONS, seed=0, **NETS[request.param])
    trained = engine.train(cfg, progress=False)
    ds = load_dataset("digits", seed=0).subset(None, PRESENTATIONS)
    x = trained.embedding.embed(ds.x_test, ds.y_test)
    spikes = trained.model.encode(x, torch.Generator().manual_seed(3))
    reference = run_float(trained.model, spikes)
    assert all(int(r.sum()) >= 100 for r in reference), "every layer fires"
    return trained, spikes, reference[-1]


def _mismatches(out: torch.Tensor, ref: torch.Tensor) -> int:
    return int((out.double() != ref).sum())


def run_snntorch(path, spikes):
    from snntorch.import_nir import import_from_nir

    with contextlib.redirect_stdout(io.StringIO()):  # it prints "replace rnn subgraph with nirgraph"
        module = import_from_nir(nir.read(str(path)))
    return torch.stack([module(spikes[t].float())[0] for t in range(spikes.shape[0])])


def run_norse(path, spikes, **kwargs):
    norse_torch = pytest.importorskip("norse.torch", reason="Norse not installed (make venv installs it with --no-deps)")
    module = norse_torch.from_nir(nir.read(str(path)), **kwargs)
    state, out = None, []
    for t in range(spikes.shape[0]):
        z, state = module(spikes[t].float(), state)
        out.append(z)
    return torch.stack(out)


def test_snntorch_reads_generic_and_snntorch_files_exactly(net, tmp_path):
    trained, spikes, ref = net
    for variant in ("generic", "snntorch"):
        out = run_snntorch(export_nir(trained, tmp_path / f"{variant}.nir", variant=variant), spikes)
        assert int(ref.sum()) > 100
        assert _mismatches(out, ref) == 0, variant


def test_plain_norse_reads_the_norse_file_exactly(net, tmp_path, caplog):
    trained, spikes, ref = net
    path = export_nir(trained, tmp_path / "model.nir", variant="norse")
    with caplog.at_level(logging.WARNING):
        out = run_norse(path, spikes)  # from_nir(graph): its default dt, no argument
    assert _mismatches(out, ref) == 0
    assert not caplog.records  # r = 1: Norse has nothing to warn about


def test_readers_on_a_file_for_another_reader_are_wrong(net, tmp_path):
    """What the variants fix, measured: plain Norse on the generic file, snnTorch on a file written
    at Norse's dt."""
    trained, spikes, ref = net
    with contextlib.redirect_stderr(io.StringIO()):  # Norse logs its r warning
        wrong_norse = run_norse(export_nir(trained, tmp_path / "generic.nir"), spikes)
    assert _mismatches(wrong_norse, ref) > 0
    wrong_snntorch = run_snntorch(export_nir(trained, tmp_path / "norse.nir", variant="norse"), spikes)
    assert _mismatches(wrong_snntorch, ref) > 0


def test_variants_record_reader_and_equation(net):
    trained = net[0]
    assert tuple(VARIANTS) == NIR_VARIANTS
    generic, norse = to_nir(trained), to_nir(trained, variant="norse")
    assert generic.metadata["dt"] == DEFAULT_DT and norse.metadata["dt"] == NORSE_DT
    assert norse.metadata["variant"] == "norse" and "r = 1" in norse.metadata["equation"]
    assert "r = tau / dt" in generic.metadata["equation"] and generic.metadata["reader"]
    np.testing.assert_array_equal(norse.nodes["lif0"].r, 1.0)
    np.testing.assert_allclose(norse.nodes["linear0"].weight, generic.nodes["linear0"].weight * generic.nodes["lif0"].r[:, None])


def test_dt_warning_names_the_reader():
    assert dt_warning("generic", DEFAULT_DT) is None and dt_warning("norse", NORSE_DT) is None
    assert "snnTorch" in dt_warning("snntorch", 1e-3) and "snnTorch" in dt_warning("generic", 1e-3)
    assert "from_nir(graph, dt=" in dt_warning("norse", 1e-4)


def test_cli_export_for_norse_warns_once_on_another_dt(net, tmp_path, capsys):
    engine.save_trained(net[0], tmp_path / "model.pt")
    for extra, warned in (([], False), (["--dt", "1e-4"], True)):
        with pytest.raises(SystemExit) as exit_info:
            main(["export", "--target", "nir", "--for", "norse", str(tmp_path / "model.pt"), "-o", str(tmp_path / "m.nir"), *extra])
        assert exit_info.value.code == 0
        err = capsys.readouterr().err
        assert (err.count("neuroff: warning:") == 1) == warned and err.count("\n") == int(warned)
    assert nir.read(str(tmp_path / "m.nir")).metadata["variant"] == "norse"


def test_for_applies_to_nir_only(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--target", "loihi", "--for", "norse", str(tmp_path / "model.pt"), "-o", str(tmp_path / "m.net")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "neuroff: error: --for applies to --target nir only; drop it for loihi\n"
