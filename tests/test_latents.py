"""Latent collection, the comparison report and `neuroff compare`, on small real digits models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neuroff import engine
from neuroff.cli import main
from neuroff.engine.options import FFConfig
from neuroff.data import Dataset, load_dataset
from neuroff.errors import NeuroffError
from neuroff.latents import collect, collect_latents, compare, load_latents, save_latents
from neuroff.latents.report import markdown_report

SMALL = dict(dataset="digits", epochs=1, n_train=300, n_test=100)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("latents")
    out = {}
    for mode in ("analog", "spiking"):
        engine.train(FFConfig(mode=mode, layers=[40], **SMALL), out_dir=root / mode, progress=False)
        out[mode] = root / mode / "model.pt"
    # a model of the wrong input size: trained on the first 32 pixels of digits
    ds = load_dataset("digits", seed=0).subset(300, 100)
    narrow = Dataset("digits", ds.x_train[:, :32].contiguous(), ds.y_train, ds.x_test[:, :32].contiguous(), ds.y_test, (4, 8), 10)
    engine.train(FFConfig(mode="analog", layers=[20], **SMALL), out_dir=root / "narrow", dataset=narrow, progress=False)
    out["narrow"] = root / "narrow" / "model.pt"
    return out


def test_collect_embeds_the_true_label_and_is_seeded(checkpoints):
    trained = engine.load_trained(checkpoints["analog"])
    ds = load_dataset("digits", seed=0).subset(50, 30)
    got = collect_latents(trained, ds.x_test, ds.y_test)
    expected = trained.model.layer_outputs(trained.embedding.embed(ds.x_test, ds.y_test))
    assert list(got) == ["activations"] and got["activations"][0].shape == (30, 40)
    np.testing.assert_allclose(got["activations"][0], expected[0].detach().numpy(), rtol=1e-6)
    spiking = engine.load_trained(checkpoints["spiking"])
    a = collect_latents(spiking, ds.x_test, ds.y_test, seed=3, batch=7)
    b = collect_latents(spiking, ds.x_test, ds.y_test, seed=3, batch=7)
    assert set(a) == {"counts", "traces"}
    assert np.array_equal(a["counts"][0], b["counts"][0]) and a["counts"][0].max() > 0
    assert (a["counts"][0] == np.round(a["counts"][0])).all()  # spike counts are integers
    # neutral label: the average class code, so the latents no longer depend on y
    n1 = collect_latents(trained, ds.x_test, ds.y_test, label="neutral")["activations"][0]
    n2 = collect_latents(trained, ds.x_test, ds.y_test.flip(0), label="neutral")["activations"][0]
    assert np.array_equal(n1, n2) and not np.allclose(n1, got["activations"][0])
    with pytest.raises(NeuroffError, match="label mode"):
        collect_latents(trained, ds.x_test, ds.y_test, label="wrong")


def test_latents_file_round_trip(checkpoints, tmp_path):
    ls = collect([checkpoints["analog"], checkpoints["spiking"]], "digits", n_train=60, n_test=40, progress=False)
    back = load_latents(save_latents(tmp_path / "l.npz", ls))
    assert back.dataset == "digits" and back.n_classes == 10 and [m.name for m in back.models] == ["analog", "spiking"]
    assert back.label_mode == "true"
    for m, n in zip(ls.models, back.models):
        assert m.mode == n.mode and m.primary == n.primary and set(m.kinds) == set(n.kinds)
        for kind in m.kinds:
            for split in ("train", "test"):
                for x, y in zip(m.kinds[kind][split], n.kinds[kind][split]):
                    assert np.array_equal(x, y)
    assert np.array_equal(back.labels["test"], ls.labels["test"]) and len(back.labels["train"]) == 60
    with pytest.raises(NeuroffError, match="not found"):
        load_latents(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(NeuroffError, match="corrupt"):
        load_latents(tmp_path / "bad.npz")


def test_compare_analog_vs_spiking_writes_every_metric(checkpoints, tmp_path):
    compare([checkpoints["analog"], checkpoints["spiking"]], tmp_path, n_train=200, n_test=100, progress=False, with_plots=False)
    for name in ("report.json", "report.md", "latents.npz"):
        assert (tmp_path / name).stat().st_size > 0, name
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["models"].keys() == {"analog", "spiking"}
    layer = on_disk["models"]["spiking"]["latents"]["counts"][0]
    for key in ("hoyer", "silent_fraction", "population_sparsity", "lifetime_sparsity", "knn_agreement",
                "silhouette", "linear_probe_accuracy"):
        assert layer[key] is None or 0.0 <= layer[key] <= 1.0 or key == "silhouette", key
    assert np.asarray(layer["class_centroid_distances"]).shape == (10, 10)
    assert len(layer["class_mean_activity"]) == 10
    # label embedded + trained: far better than chance (0.1) even for these tiny models
    assert layer["knn_agreement"] > 0.5 and layer["linear_probe_accuracy"] > 0.5
    pair = on_disk["pairs"][0]
    assert (pair["a"], pair["b"]) == ("analog", "spiking")
    assert 0.0 <= pair["layers"][0]["cka"] <= 1.0 and pair["layers"][0]["n_pairs"] == 40
    md = (tmp_path / "report.md").read_text()
    assert "## Layer 0" in md and "Hoyer" in md and "5-NN separability" in md and "linear probe" in md and "CKA" in md
    assert md == markdown_report(on_disk)


def test_a_model_compared_with_itself_is_identical(checkpoints, tmp_path):
    report = compare([checkpoints["spiking"], checkpoints["spiking"]], tmp_path, n_train=100, n_test=80, progress=False, with_plots=False)
    assert list(report["models"]) == ["spiking-0", "spiking-1"]
    layer = report["pairs"][0]["layers"][0]
    assert layer["cka"] == pytest.approx(1.0)
    assert layer["wasserstein_mean"] == pytest.approx(0.0, abs=1e-12) and layer["ks_mean"] == pytest.approx(0.0, abs=1e-12)


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def _one_line_error(code, err, needle):
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neuroff: error: ") and needle in lines[0], err


def test_cli_compare_prints_the_table(checkpoints, tmp_path, capsys):
    argv = ["compare", str(checkpoints["analog"].parent), str(checkpoints["spiking"]), "--out", str(tmp_path),
            "--n-train", "100", "--n-test", "60", "--n-embed", "30", "--quiet"]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    assert "true label embedded" in out
    assert "| analog (analog) | activations |" in out and "| spiking (spiking) | counts |" in out
    report = json.loads((tmp_path / "report.json").read_text())
    for name in ("heatmap_layer0.png", "embedding_layer0.png", "sparsity_layer0.png", "cka_analog__spiking.png"):
        assert name in report["files"] and (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_cli_compare_errors_are_one_line(checkpoints, tmp_path, capsys):
    code, _, err = _run(["compare", str(checkpoints["analog"]), str(tmp_path / "nope.pt"), "--out", str(tmp_path)], capsys)
    _one_line_error(code, err, "not found")
    code, _, err = _run(["compare", str(checkpoints["analog"]), "--out", str(tmp_path)], capsys)
    _one_line_error(code, err, "at least two checkpoints")
    code, _, err = _run(["compare", str(checkpoints["analog"]), str(checkpoints["narrow"]), "--out", str(tmp_path)], capsys)
    _one_line_error(code, err, "expects 32 input features")
    (tmp_path / "junk.pt").write_bytes(checkpoints["analog"].read_bytes()[:-100])  # truncated
    code, _, err = _run(["compare", str(checkpoints["analog"]), str(tmp_path / "junk.pt"), "--out", str(tmp_path)], capsys)
    _one_line_error(code, err, "corrupt")
    code, _, err = _run(["compare", str(checkpoints["analog"]), str(checkpoints["spiking"]), "--dataset", "nosuch", "--out", str(tmp_path)], capsys)
    _one_line_error(code, err, "nosuch")
