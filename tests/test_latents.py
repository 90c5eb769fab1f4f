"""Latent collection, the comparison report and `neuroff compare`, on small real digits models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neuroff import engine
from neuroff.cli import main
from neuroff.data import Dataset, load_dataset
from neuroff.engine.options import FFConfig
from neuroff.errors import NeuroffError
from neuroff.latents import (
    collect,
    collect_latents,
    compare,
    load_latents,
    save_latents,
)
from neuroff.latents.collection import DEFAULT_LABEL_MODE, LABEL_CONDITIONED
from neuroff.latents.report import markdown_report

SMALL = dict(dataset="digits", epochs=1, n_train=300, n_test=100)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("latents")
    out = {}
    for mode in ("analog", "spiking"):
        engine.train(FFConfig(mode=mode, layers=[40], **SMALL), out_dir=root / mode, progress=False)
        out[mode] = root / mode / "model.pt"
    # a second seed of the analog model (the reference), a deeper spiking one, one of another dataset
    engine.train(FFConfig(mode="analog", layers=[40], seed=1, **SMALL), out_dir=root / "analog-seed1", progress=False)
    out["analog-seed1"] = root / "analog-seed1" / "model.pt"
    engine.train(FFConfig(mode="analog", layers=[30, 20], **SMALL), out_dir=root / "deep", progress=False)
    out["deep"] = root / "deep" / "model.pt"
    engine.train(FFConfig(mode="analog", layers=[40], dataset="mnist5k", epochs=1, n_train=100, n_test=20, seed=1),
                 out_dir=root / "mnist", progress=False)
    out["mnist"] = root / "mnist" / "model.pt"
    # a model of the wrong input size: trained on the first 32 pixels of digits
    ds = load_dataset("digits", seed=0).subset(300, 100)
    narrow = Dataset("digits", ds.x_train[:, :32].contiguous(), ds.y_train, ds.x_test[:, :32].contiguous(), ds.y_test, (4, 8), 10)
    engine.train(FFConfig(mode="analog", layers=[20], **SMALL), out_dir=root / "narrow", dataset=narrow, progress=False)
    out["narrow"] = root / "narrow" / "model.pt"
    return out


def test_collect_embeds_the_label_code_asked_and_is_seeded(checkpoints):
    trained = engine.load_trained(checkpoints["analog"])
    ds = load_dataset("digits", seed=0).subset(50, 30)
    got = collect_latents(trained, ds.x_test, ds.y_test, label=LABEL_CONDITIONED)
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
    n1 = collect_latents(trained, ds.x_test, ds.y_test)["activations"][0]  # neutral: the default
    n2 = collect_latents(trained, ds.x_test, ds.y_test.flip(0), label="neutral")["activations"][0]
    assert np.array_equal(n1, n2) and not np.allclose(n1, got["activations"][0])
    with pytest.raises(NeuroffError, match="label mode"):
        collect_latents(trained, ds.x_test, ds.y_test, label="wrong")
    with pytest.raises(NeuroffError, match="now named 'label-conditioned'"):
        collect_latents(trained, ds.x_test, ds.y_test, label="true")


def test_latents_file_round_trip(checkpoints, tmp_path):
    ls = collect([checkpoints["analog"], checkpoints["spiking"]], "digits", n_train=60, n_test=40, progress=False)
    back = load_latents(save_latents(tmp_path / "l.npz", ls))
    assert back.dataset == "digits" and back.n_classes == 10 and [m.name for m in back.models] == ["analog", "spiking"]
    assert back.label_mode == "neutral" and [m.role for m in back.models] == ["model", "model"]
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


def test_compare_writes_every_metric_with_intervals_controls_and_verdict(checkpoints, tmp_path):
    compare([checkpoints["analog"], checkpoints["spiking"]], tmp_path, n_train=200, n_test=100, progress=False, with_plots=False,
            reference=checkpoints["analog-seed1"], n_resamples=200)
    for name in ("report.json", "report.md", "latents.npz"):
        assert (tmp_path / name).stat().st_size > 0, name
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["label_mode"] == "neutral"
    roles = {n: (m["role"], m["of"]) for n, m in on_disk["models"].items()}
    assert roles == {"analog": ("model", None), "spiking": ("model", None), "analog-seed1": ("reference", "analog"),
                     "analog untrained": ("control", "analog"), "spiking untrained": ("control", "spiking")}
    assert on_disk["models"]["analog untrained"]["epoch"] == 0
    layer = on_disk["models"]["spiking"]["latents"]["counts"][0]
    for key in ("hoyer", "silent_fraction", "population_sparsity", "lifetime_sparsity", "knn_agreement",
                "silhouette", "linear_probe_accuracy"):
        assert layer[key] is None or 0.0 <= layer[key] <= 1.0 or key == "silhouette", key
        lo, hi = layer["ci"][key]
        assert lo <= hi and lo - 0.05 <= layer[key] <= hi + 0.05, key  # a 95 % interval around its estimate
    assert np.asarray(layer["class_centroid_distances"]).shape == (10, 10)
    assert len(layer["class_mean_activity"]) == 10
    assert layer["knn_agreement"] > 0.3 and layer["linear_probe_accuracy"] > 0.3  # chance is 0.1
    pairs = {p["role"]: p for p in on_disk["pairs"]}
    assert (pairs["models"]["a"], pairs["models"]["b"]) == ("analog", "spiking")
    assert (pairs["control"]["a"], pairs["control"]["b"]) == ("analog", "spiking untrained")
    assert (pairs["reference"]["a"], pairs["reference"]["b"]) == ("analog", "analog-seed1")
    first = pairs["models"]["layers"][0]
    assert 0.0 <= first["cka"] <= 1.0 and first["n_pairs"] == 40
    assert first["ci"]["cka"][0] <= first["cka"] <= first["ci"]["cka"][1]
    assert set(first["p_values"]) == {"cka_vs_unrelated", "wasserstein_mean", "ks_mean"}
    assert all(1 / 201 <= p <= 1 for p in first["p_values"].values())
    kinds = {(d["kind"], d["metric"]) for d in on_disk["differences"]}
    assert {("between", "hoyer"), ("training", "knn_agreement"), ("seed", "hoyer"), ("structure-seed", "cka"),
            ("structure-training", "cka")} <= kinds
    v = on_disk["verdict"]
    assert (v["a"], v["b"]) == ("analog", "spiking") and "analog-seed1" in v["against"]
    assert set(v["layers"][0]["claims"]) == {"sparsity", "separability", "structure"}
    md = (tmp_path / "report.md").read_text()
    assert md.splitlines()[0].startswith("# Latent comparison on digits: neutral label")
    assert "## Layer 0" in md and "5-NN separability" in md and "linear probe" in md and "CKA" in md
    assert md.rstrip().splitlines()[-1].startswith("Rules:") and "## Verdict" in md
    assert md == markdown_report(on_disk)


def test_untrained_control_separates_worse_and_label_conditioning_is_never_the_default(checkpoints, tmp_path):
    """On digits, the trained spiking net's neutral-label 5-NN separability is above its untrained
    twin's (paired bootstrap interval of the difference above 0); label-conditioned latents are
    only ever collected when asked for."""
    import inspect

    from neuroff.cli import build_parser
    from neuroff.latents import collection
    from neuroff.latents import report as rep

    assert DEFAULT_LABEL_MODE == "neutral"
    for f in (collection.collect, collection.collect_latents, rep.compare):
        assert inspect.signature(f).parameters["label"].default == "neutral", f
    args = build_parser().parse_args(["compare", "a", "b", "--out", "x"])
    assert args.label == "neutral"
    report = compare([checkpoints["spiking"], checkpoints["analog"]], tmp_path, n_train=300, progress=False, with_plots=False,
                     n_resamples=300)
    assert report["label_mode"] == "neutral"
    trained = report["models"]["spiking"]["latents"]["counts"][0]["knn_agreement"]
    control = report["models"]["spiking untrained"]["latents"]["counts"][0]["knn_agreement"]
    gain = next(d for d in report["differences"] if d["kind"] == "training" and d["first"] == "spiking" and d["metric"] == "knn_agreement")
    assert control < trained and gain["ci"][0] > 0 and gain["significant"], (control, trained, gain)
    conditioned = compare([checkpoints["spiking"], checkpoints["analog"]], tmp_path / "lc", n_train=300, n_test=100, progress=False,
                          with_plots=False, n_resamples=0, label="label-conditioned", controls=False)
    assert (tmp_path / "lc" / "report.md").read_text().startswith("# Latent comparison on digits: LABEL-CONDITIONED")
    # the label code alone separates the classes: the label-conditioned score is far above the neutral one
    assert conditioned["models"]["spiking"]["latents"]["counts"][0]["knn_agreement"] > trained


def test_a_control_that_cannot_be_rebuilt_is_named_not_fatal(checkpoints, tmp_path):
    # trained on a Dataset object (32 pixels of digits): its configuration names "digits", which
    # would rebuild a 64-pixel network, so it has no untrained twin; the comparison still runs
    ds = load_dataset("digits", seed=0).subset(300, 100)
    narrow = Dataset("digits", ds.x_train[:, :32].contiguous(), ds.y_train, ds.x_test[:, :32].contiguous(), ds.y_test, (4, 8), 10)
    report = compare([checkpoints["narrow"], checkpoints["narrow"]], tmp_path, dataset=narrow, progress=False, with_plots=False,
                     n_resamples=0)
    assert [m["role"] for m in report["models"].values()] == ["model", "model"]
    assert any(n.startswith("no untrained twin of analog-0: its configuration rebuilds a [164, 20] network") for n in report["notes"]), report["notes"]


def test_models_of_different_depths_compare_what_can_be_matched(checkpoints, tmp_path):
    report = compare([checkpoints["deep"], checkpoints["spiking"]], tmp_path, n_train=100, n_test=60, progress=False,
                     with_plots=False, n_resamples=0, controls=False)
    assert [len(p["layers"]) for p in report["pairs"]] == [1]  # layer 1 of deep has no same-depth partner
    assert np.asarray(report["pairs"][0]["cka_matrix"]).shape == (2, 1)
    notes = " ".join(report["notes"])
    assert "deep has 2 layers, spiking 1" in notes and "L1" in notes
    assert "30 neurons, spiking 40: 30 neurons are matched, 10 of spiking have no partner" in notes


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
            "--n-train", "100", "--n-test", "60", "--n-embed", "30", "--embed", "pca", "--resamples", "100", "--quiet"]
    code, out, err = _run(argv, capsys)
    assert code == 0, err
    assert out.startswith("# Latent comparison on digits: neutral label")
    assert "| analog (analog) | activations |" in out and "| spiking (spiking) | counts |" in out
    report = json.loads((tmp_path / "report.json").read_text())
    for name in ("summary.png", "heatmap_layer0.png", "embedding_layer0.png", "sparsity_layer0.png", "class_activity_layer0.png",
                 "centroids_layer0.png", "tuning_layer0_analog__spiking.png", "tuning_layer0_analog__spiking_untrained.png"):
        assert name in report["files"] and (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


@pytest.mark.slow  # UMAP's numba compilation takes ~40 s on the shared machine
def test_cli_compare_svg_and_umap(checkpoints, tmp_path, capsys):
    pytest.importorskip("umap")
    argv = ["compare", str(checkpoints["analog"]), str(checkpoints["spiking"]), "--out", str(tmp_path), "--n-train", "100",
            "--n-test", "60", "--n-embed", "60", "--resamples", "0", "--no-controls", "--embed", "pca,umap", "--format", "svg", "--quiet"]
    code, _, err = _run(argv, capsys)
    assert code == 0, err
    svg = (tmp_path / "embedding_layer0.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "UMAP 1" in svg and "class" in svg


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
    base = ["compare", str(checkpoints["analog"]), str(checkpoints["spiking"]), "--out", str(tmp_path), "--quiet"]
    code, _, err = _run([*base, "--reference", str(checkpoints["mnist"])], capsys)
    _one_line_error(code, err, "was trained on 'mnist5k', the models on digits")
    code, _, err = _run([*base, "--reference", str(checkpoints["analog"])], capsys)
    _one_line_error(code, err, "same seed (0) as analog")
    code, _, err = _run([*base, "--reference", str(checkpoints["deep"])], capsys)
    _one_line_error(code, err, "has the architecture of none of the models")
    code, _, err = _run([*base, "--n-test", "5"], capsys)
    _one_line_error(code, err, "5 test samples are fewer than the 10 classes")
    code, _, err = _run([*base, "--embed", "pca,lle"], capsys)
    _one_line_error(code, err, "unknown embedding 'lle'")
    code, _, err = _run([*base, "--label", "true"], capsys)
    _one_line_error(code, err, "invalid choice")


def test_verdict_is_undetermined_without_intervals() -> None:
    """With no bootstrap interval (--resamples 0) no difference is significant either way: the
    verdict must say undetermined, not 'similar'."""
    import math

    from neuroff.latents.report import _similar, verdict

    diffs = [
        {"kind": "between", "layer": 0, "metric": "hoyer", "difference": 0.2, "ci": [math.nan, math.nan], "significant": False},
        {"kind": "between", "layer": 0, "metric": "knn_agreement", "difference": 0.2, "ci": [math.nan, math.nan], "significant": False},
    ]
    report = {"models": {"a": {"role": "model"}, "b": {"role": "model"}}, "differences": diffs}
    (layer,) = verdict(report)["layers"]
    assert layer["claims"]["sparsity"]["holds"] is None and layer["holds"] is None
    assert _similar(None).startswith("undetermined") and _similar(True) == "similar" and _similar(False) == "not similar"
