"""The noisy-data study: corruption, early stopping, the backprop baseline, the command."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from neuroff.studies.baselines import BackpropNet, accuracy, train_backprop
from neuroff.layers.spec import blocks_from_layers, parse_blocks
from neuroff.cli import main
from neuroff.data import load_dataset
from neuroff.studies.early_stopping import EarlyStopping
from neuroff.errors import NeuroffError
from neuroff.studies.robustness import CORRUPTIONS, StudySettings, corrupt_training_set, format_table, run_study

torch.set_num_threads(1)


def test_corruption_quarters():
    ds = load_dataset("digits", seed=0)
    x, y = ds.x_train[:402], ds.y_train[:402]
    xc, yc, kind = corrupt_training_set(x, y, 10, noise_std=0.5, seed=1)
    assert torch.bincount(kind, minlength=4).tolist() == [101, 100, 101, 100]
    assert xc.min() >= 0 and xc.max() <= 1
    clean, gauss, dropped, noise = (kind == i for i in range(len(CORRUPTIONS)))
    assert torch.equal(xc[clean], x[clean]) and torch.equal(yc[~noise], y[~noise])
    assert (xc[gauss] != x[gauss]).float().mean() > 0.5
    changed = xc[dropped] != x[dropped]
    assert torch.all(xc[dropped][changed] == 0) and changed.any()
    assert (yc[noise] != y[noise]).float().mean() > 0.6  # random labels: ~90% differ
    assert abs(float(xc[noise].mean()) - 0.5) < 0.05  # the images are noise around 0.5, not digits
    again = corrupt_training_set(x, y, 10, noise_std=0.5, seed=1)
    assert torch.equal(again[0], xc) and torch.equal(again[1], yc)
    assert not torch.equal(corrupt_training_set(x, y, 10, noise_std=0.5, seed=2)[0], xc)
    assert torch.equal(x, ds.x_train[:402])  # input untouched


def test_early_stopping_keeps_the_best_weights():
    model = nn.Linear(2, 1)
    stopper = EarlyStopping(patience=2)
    assert not stopper.update(0.5, 1, model)
    best = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    assert not stopper.update(0.4, 2, model)
    assert stopper.update(0.45, 3, model)
    stopper.restore(model)
    assert torch.equal(model.weight, best) and stopper.best_epoch == 1
    with pytest.raises(NeuroffError, match="patience"):
        EarlyStopping(0)


def test_backprop_baseline_learns_digits():
    ds = load_dataset("digits", seed=0)
    spec = blocks_from_layers(64, [64, 32])
    result = train_backprop(spec, ds.x_train, ds.y_train, ds.x_test, ds.y_test, 10, epochs=4, batch_size=32, lr=3e-3, progress=False)
    assert accuracy(result.model, ds.x_test, ds.y_test) > 0.85
    assert result.history[-1]["val_accuracy"] > result.history[0]["val_accuracy"] - 0.05
    conv = BackpropNet(parse_blocks("8x8,(c4k3p2),(16)"), 10, torch.Generator().manual_seed(0))
    assert conv(ds.x_test[:5]).shape == (5, 10)


def test_study_on_digits_writes_table_json_and_plot(tmp_path):
    settings = StudySettings(dataset="digits", blocks="64,(32,32),(16)", epochs=2, patience=1, batch_size=32, lr=0.01, n_train=600, n_test=200)
    report = run_study(settings, tmp_path, progress=False)
    assert list(report["methods"]) == ["intff", "ff", "ff-softplus", "bp"]
    assert report["training_set"] == {"clean": 135, "gaussian": 135, "dropped": 135, "pure-noise": 135}
    for r in report["methods"].values():
        assert 0.0 <= r["test_accuracy"] <= 1.0 and 1 <= r["best_epoch"] <= r["epochs_run"] <= 2
    assert report["methods"]["ff-softplus"]["config"]["blocks"] == "64,(32),(32),(16)"
    assert report["methods"]["ff"]["config"]["layers"] == [32, 32, 16]
    saved = json.loads((tmp_path / "robustness.json").read_text())
    assert saved["methods"]["intff"]["test_accuracy"] == report["methods"]["intff"]["test_accuracy"]
    assert (tmp_path / "robustness.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = format_table(report)
    assert "digits" in table and "bp" in table
    assert "94.38%" in table and "93.83%" in table  # the paper's noisy-MNIST figures beside ours


@pytest.mark.parametrize(
    "args, message",
    [
        (["--methods", "intff,sgd"], "unknown method"),
        (["--blocks", "8x8,(c4k3)", "--embedding", "onehot"], "dense-only"),
        (["--blocks", "784,(10)"], "start it with 64"),
        (["--blocks", "64,(10"], "unclosed"),
    ],
)
def test_robustness_cli_errors(capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["robustness", "--dataset", "digits", "--epochs", "1", "--quiet", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_robustness_cli_runs(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["robustness", "--dataset", "digits", "--blocks", "64,(16,16)", "--methods", "intff,bp", "--epochs", "1",
              "--n-train", "300", "--n-test", "100", "--batch-size", "32", "--quiet", "--out", str(tmp_path)])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "intff" in out and "bp" in out and (tmp_path / "robustness.json").is_file()


def test_robustness_normalize_first_and_linear_readout(tmp_path):
    """--normalize-first reaches IntFF's block 0; --linear-readout adds the paper's linear read-out to the FF methods only."""
    with pytest.raises(SystemExit) as exit_info:
        main(["robustness", "--dataset", "digits", "--blocks", "64,(16,16)", "--methods", "intff,bp", "--epochs", "1",
              "--n-train", "300", "--n-test", "100", "--batch-size", "32", "--threshold", "0.1", "--normalize-first",
              "--linear-readout", "--quiet", "--out", str(tmp_path)])  # fmt: skip
    assert exit_info.value.code == 0
    report = json.loads((tmp_path / "robustness.json").read_text())
    intff = report["methods"]["intff"]
    assert intff["config"]["intff_normalize_first"] and 0.0 <= intff["linear_readout_accuracy"] <= 1.0
    assert "linear_readout_accuracy" not in report["methods"]["bp"]
