"""Real Lava runs (lava-nc 0.10.0, bit-accurate CUBA) against neuroff's fixed-point reference.

Needs the Python 3.10 Lava venv (.venv-lava, made by `make lava-venv` / `make test` when a
Python 3.10 exists); skipped with that reason otherwise. The Lava side runs as a subprocess
with only hardware/ on its path, never this test tree.
"""

import os
import subprocess

import numpy as np
import pytest
import torch

from neuroff.engine.options import FFConfig
from neuroff.data.pairing import make_label_embedding
from neuroff.engine.training import Trained
from neuroff.export.lava import DEFAULT_VENV, HARDWARE_DIR, run_lava
from neuroff.export.loihi import QuantisedNet, export_loihi, write_netx
from neuroff.layers.lif_stack import SpikingFFNet
from neuroff.layers.fixed_point import FixedLayer, run_fixed
from neuroff.core.loihi_neurons import CubaParams

torch.set_num_threads(1)
LAVA_PY = DEFAULT_VENV / "bin" / "python"
pytestmark = pytest.mark.skipif(
    not any(DEFAULT_VENV.glob(".installed-lava-*")),
    reason="Lava venv .venv-lava missing: run `make lava-venv` (needs a Python 3.10 interpreter)",
)


def _lava(script: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(HARDWARE_DIR)
    proc = subprocess.run([str(LAVA_PY), "-c", script, *args], capture_output=True, text=True, env=env, cwd=HARDWARE_DIR, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_two_layer_network_is_spike_identical(tmp_path):
    """Random integer weights over the whole 8-bit range, two layers (two Dense delays), several
    presentations through one compiled network with interval resets."""
    g = torch.Generator().manual_seed(5)
    w1 = (torch.randint(-128, 128, (16, 24), generator=g) * 2).to(torch.int64)
    w2 = (torch.randint(-128, 128, (8, 16), generator=g) * 2).to(torch.int64)
    layers = [FixedLayer(w1, CubaParams(dv=614, vth=300), 1.0), FixedLayer(w2, CubaParams(dv=1024, vth=200), 1.0)]
    write_netx(tmp_path / "two.net", QuantisedNet(24, layers))
    spikes = (torch.rand(7, 23, 24, generator=g) < 0.4).to(torch.uint8)  # [P, T, D]
    np.save(tmp_path / "spikes.npy", spikes.numpy())
    script = (
        "import sys, numpy as np; from neuroff_lava.runner import run_presentations;"
        "r = run_presentations(sys.argv[1], np.load(sys.argv[2]), chunk=3);"
        "np.savez(sys.argv[3], *r.rasters)"
    )
    _lava(script, str(tmp_path / "two.net"), str(tmp_path / "spikes.npy"), str(tmp_path / "out.npz"))
    ref, _ = run_fixed(layers, spikes.permute(1, 0, 2))
    with np.load(tmp_path / "out.npz") as out:
        for i, r in enumerate(ref):
            lava = torch.from_numpy(out[f"arr_{i}"].astype(np.int64)).permute(1, 0, 2)
            assert int(r.sum()) > 20  # both layers are active
            assert torch.equal(lava, r), f"layer {i}: {int((lava != r).sum())} mismatching spikes"


def test_run_lava_end_to_end(tmp_path):
    """export -> neuroff run-lava path on digits: identical rasters, same predictions."""
    cfg = FFConfig(dataset="digits", init_scale=4.0).validate()
    g = torch.Generator().manual_seed(0)
    emb = make_label_embedding("code", 10, cfg.code_bits, cfg.code_p, 0)
    trained = Trained(cfg, SpikingFFNet(cfg, 64 + cfg.code_bits, g), emb, rule=None, generator=g)
    net, _, _ = export_loihi(trained, tmp_path / "model.net")
    report = run_lava(net, samples=2)
    assert report["presentations"] == 20
    assert report["reference_spikes"] > 50
    assert report["mismatched_spikes"] == 0 and report["identical_rasters"]
    assert report["prediction_agreement"] == 1.0 and report["runner_decode_matches_neuroff"]
    assert report["lava_accuracy"] == report["fixed_accuracy"]


def test_a_label_free_net_exports_and_runs_without_a_goodness_read_out(tmp_path, capsys):
    """SCFF's spiking stack has no head: model.json says so (head null), and neither export nor
    run-lava reports an accuracy (an argmax over zero scores would read as one); the spikes match."""
    import json

    from neuroff.cli import main

    def cli(argv):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        return capsys.readouterr().out

    cli(["train", "--rule", "scff", "--mode", "spiking", "--n-train", "40", "--n-test", "10", "--epochs", "1", "--quiet",
         "--out", str(tmp_path / "run")])
    out = cli(["export", str(tmp_path / "run"), "--target", "loihi", "-o", str(tmp_path / "m" / "model.net"), "--quiet"])
    assert "no goodness read-out" in out and "accuracy" not in out
    decode = json.loads((tmp_path / "m" / "model.json").read_text())["decode"]
    assert decode["head"] is None and "no goodness read-out" in decode["rule"]
    out = cli(["run-lava", str(tmp_path / "m" / "model.net"), "--samples", "2", "--out", str(tmp_path / "r.json")])
    report = json.loads((tmp_path / "r.json").read_text())
    assert "no goodness read-out" in out and report["lava_accuracy"] is None and report["mismatched_spikes"] == 0
    assert report["lava_spikes"] > 0
