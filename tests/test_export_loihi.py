"""Quantisation, the netx file, the sidecar, the resource estimate and failure modes of the Loihi export."""

import dataclasses
import importlib.util
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from neuroff import engine
from neuroff.cli import main
from neuroff.engine.options import FFConfig
from neuroff.errors import NeuroffError
from neuroff.export.loihi import (
    QuantisedNet,
    compare,
    export_loihi,
    quantise,
    quantise_layer,
    read_netx,
    resource_estimate,
)
from neuroff.layers.fixed_point import FixedLayer, decode_rasters, run_fixed
from neuroff.core.loihi_neurons import CubaParams

torch.set_num_threads(1)
HARDWARE = Path(__file__).resolve().parents[1] / "hardware" / "neuroff_lava"


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    trained = engine.train(FFConfig(dataset="digits", epochs=1, n_test=200, max_rate=0.25), out_dir=out, progress=False)  # ~2-10 s
    return trained, engine.prepare_dataset(trained.config), out / "model.pt"


def test_quantised_network_follows_the_float_one(digits):
    trained, ds, _ = digits
    report = compare(trained, quantise(trained), ds.x_test, ds.y_test)
    assert report["n_samples"] == 200
    assert report["spike_agreement"][0] > 0.999  # 0.9995 for this rate-0.25 fixture (0.9985 at max_rate 1)
    assert report["prediction_agreement"] >= 0.9
    assert abs(report["fixed_accuracy"] - report["float_accuracy"]) <= 0.05
    assert report["clipped_fraction"] == [0.0]
    # the float accuracy is the one neuroff's own evaluation reports (same spikes)
    assert report["float_accuracy"] == pytest.approx(engine.evaluate(trained, ds.x_test, ds.y_test), abs=0.011)


def test_quantise_layer_maps_largest_weight_to_254():
    w = torch.tensor([[0.5, -0.25, 0.1], [-0.5, 0.0, 0.3]], dtype=torch.float64)
    layer, clipped = quantise_layer(w, threshold=1.0, beta=0.85)
    assert layer.weight.tolist() == [[254, -128, 50], [-254, 0, 152]]  # 2 * round(508 w / 2)
    assert layer.params == CubaParams(du=4095, dv=614, vth=508)
    assert layer.scale == pytest.approx(508.0) and clipped == 0.0
    layer, clipped = quantise_layer(w, 1.0, 0.85, clip_percentile=50.0)
    assert clipped > 0 and int(layer.weight.max()) == 254 and int(layer.weight.min()) == -256


def test_netx_file_structure_and_round_trip(digits, tmp_path):
    trained, ds, _ = digits
    net, side, meta = export_loihi(trained, tmp_path / "model.net", ds.x_test[:20], ds.y_test[:20])
    assert side == tmp_path / "model.json"
    with h5py.File(net, "r") as f:
        assert sorted(f["layer"].keys()) == ["0", "1"]
        assert f["layer/0/type"][0] == b"input" and f["layer/0/shape"][()].tolist() == [164]
        dense = f["layer/1"]
        assert dense["type"][0] == b"dense" and dense["shape"][()].tolist() == [200]
        w = dense["weight"][()]
        assert w.shape == (200, 164) and np.issubdtype(w.dtype, np.integer)
        assert w.min() >= -256 and w.max() <= 254 and (w % 2 == 0).all()
        n = dense["neuron"]
        assert n["type"][0] == b"CUBA"
        assert int(n["iDecay"][()]) == 4096 and int(n["vDecay"][()]) == 614
        assert all(np.issubdtype(n[k][()].dtype, np.integer) for k in ("iDecay", "vDecay", "vThMant"))
    q = quantise(trained)
    back = read_netx(net)
    assert back.n_inputs == 164 and torch.equal(back.layers[0].weight, q.layers[0].weight)
    assert back.layers[0].params == q.layers[0].params
    data = json.loads(side.read_text())
    assert data["netx_file"] == "model.net" and len(data["label_codes"]) == 10
    assert data["timing"]["steps"] == trained.config.steps and data["decode"]["learn_start"] == trained.config.learn_start
    assert data["quantisation"]["n_samples"] == 20 and data["resources"]["total_cores"] == 1


def test_resource_estimate_numbers():
    def net(n, d):
        return QuantisedNet(d, [FixedLayer(torch.zeros(n, d, dtype=torch.int64), CubaParams(), 1.0)])

    est = resource_estimate(net(200, 164))
    assert est["layers"][0] == {
        "layer": 1, "neurons": 200, "fan_in": 164, "synapses": 32800, "nonzero_synapses": 0,
        "weight_bits": 8, "synaptic_bytes": 32800, "cores": 1,
    }
    assert resource_estimate(net(200, 1000))["layers"][0]["cores"] == 2  # 200,000 B > 128 KiB
    assert resource_estimate(net(8193, 1))["layers"][0]["cores"] == 2  # > 8192 neurons per core
    assert est["limits"]["max_neurons_per_core"]["value"] == 8192
    assert est["limits"]["cores_per_chip"] == {"value": 128, "source": "public"}
    assert est["limits"]["synaptic_memory_bytes_per_core"]["source"] == "estimate"


def test_numpy_decoder_of_the_lava_runner_matches_neuroff():
    spec = importlib.util.spec_from_file_location("lava_decode", HARDWARE / "decode.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    g = torch.Generator().manual_seed(3)
    rasters = [(torch.rand(23, 40, 12, generator=g) < 0.3).to(torch.int64), (torch.rand(23, 40, 6, generator=g) < 0.3).to(torch.int64)]
    for head, trace in (("sym", "leaky"), ("sigma", "count"), ("sym", "hard-leaky")):
        cfg = FFConfig(layers=[12, 6], head=head, trace=trace, score_layers=[1]).validate()
        ref = decode_rasters(rasters, cfg).p_window
        dec = {"trace": trace, "trace_decay": cfg.trace_decay, "learn_start": cfg.learn_start, "score_layers": [1],
               "head": {"kind": head, "alpha": cfg.alpha, "theta": cfg.theta, "eps": cfg.eps}}
        ours = mod.p_window([r.permute(1, 0, 2).numpy() for r in rasters], dec)
        np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-12)
        scores = mod.candidate_scores([r.permute(1, 0, 2).numpy() for r in rasters], dec, 4)
        np.testing.assert_allclose(scores, ref[:, 1].reshape(10, 4).numpy(), rtol=1e-12)


def test_fixed_reference_from_file_equals_quantised_model(digits, tmp_path):
    trained, ds, _ = digits
    net, _, _ = export_loihi(trained, tmp_path / "m.net")
    spikes = (torch.rand(23, 30, 164, generator=torch.Generator().manual_seed(0)) < 0.2).to(torch.uint8)
    a = run_fixed(read_netx(net).layers, spikes)[0]
    b = run_fixed(quantise(trained).layers, spikes)[0]
    assert torch.equal(a[0], b[0])


def _no_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_unrepresentable_networks_fail_cleanly(digits, tmp_path):
    trained, _, _ = digits
    for change, fix in (({"reset": "subtract"}, "--reset zero"), ({"refractory": 2}, "--refractory 0")):
        bad = dataclasses.replace(trained, config=dataclasses.replace(trained.config, **change))
        with pytest.raises(NeuroffError, match=fix):
            export_loihi(bad, tmp_path / "model.net")
    tiny = dataclasses.replace(trained, model=_scaled(trained, 1e-5))
    with pytest.raises(NeuroffError, match="17-bit"):
        export_loihi(tiny, tmp_path / "model.net")
    with pytest.raises(NeuroffError, match="sidecar"):
        export_loihi(trained, tmp_path / "model.json")
    analog = engine.create(FFConfig(mode="analog", dataset="digits"), engine.prepare_dataset(FFConfig(dataset="digits")))
    with pytest.raises(NeuroffError, match="spiking"):
        export_loihi(analog, tmp_path / "model.net")
    assert _no_files(tmp_path) == []  # nothing half-written


def _scaled(trained, factor):
    import copy

    model = copy.deepcopy(trained.model)
    for i, w in enumerate(model.weights):
        model.set_layer(i, w * factor, model.eligibilities[i])
    return model


def test_cli_export_loihi(digits, tmp_path, capsys):
    _, _, ckpt = digits
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--target", "loihi", str(ckpt), "-o", str(tmp_path / "model.net"), "--n-test", "30"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "cores" in out and "fixed-point accuracy" in out
    assert (tmp_path / "model.net").is_file() and (tmp_path / "model.json").is_file()
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--target", "loihi", str(tmp_path / "missing.pt"), "-o", str(tmp_path / "x.net")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("neuroff: error:")


def test_a_label_free_net_exports_without_a_goodness_read_out(tmp_path):
    """SCFF's spiking stack has no head: the sidecar says so (head null), the quantisation report
    has no accuracy, and both sidecar forms (head null; before stop 27, a head of kind null)
    decode to a config without a head. (tests/test_lava.py runs the same export in Lava.)"""
    import json

    from neuroff import engine
    from neuroff.data import load_dataset
    from neuroff.engine.options import FFConfig
    from neuroff.export.lava import decode_config

    ds = load_dataset("digits", seed=0).subset(40, 10)
    trained = engine.train(FFConfig(rule="scff", mode="spiking", epochs=1), dataset=ds, progress=False)
    _, side, meta = export_loihi(trained, tmp_path / "m.net", ds.x_test, ds.y_test)
    q = meta["quantisation"]
    assert q["float_accuracy"] is None and q["fixed_accuracy"] is None and q["prediction_agreement"] is None
    sidecar = json.loads(side.read_text())
    assert sidecar["decode"]["head"] is None and "no goodness read-out" in sidecar["decode"]["rule"]
    assert decode_config(sidecar).head is None
    sidecar["decode"]["head"] = {"kind": None, "alpha": 6.0, "theta": 1.0, "eps": 0.01}
    assert decode_config(sidecar).head is None
