"""The command line (neuroff.cli): train / evaluate / info on real digits, and every user error
as one line ``neuroff: error: ...`` with exit status 2 and no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from neuroff import __version__
from neuroff.cli import main

SMALL = ["--n-train", "200", "--n-test", "50", "--epochs", "1", "--quiet"]


def _run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def _assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("neuroff: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "digits", *SMALL, "--out", str(out)])
    assert exc.value.code == 0
    return out


def test_train_writes_model_and_metrics(trained_dir: Path) -> None:
    assert (trained_dir / "model.pt").is_file()
    metrics = json.loads((trained_dir / "metrics.json").read_text())
    assert len(metrics["epochs"]) == 1
    assert metrics["config"]["n_train"] == 200 and metrics["config"]["mode"] == "spiking"
    assert 0.0 <= metrics["epochs"][0]["test_accuracy"] <= 1.0


def test_train_prints_json_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _run(["train", "--mode", "analog", "--layers", "20,10", "--batch-size", "16", *SMALL, "--out", str(tmp_path)], capsys)
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["epochs"] == 1 and 0.0 <= summary["test_accuracy"] <= 1.0
    info = json.loads(_run(["info", str(tmp_path / "model.pt"), "--json"], capsys)[1])
    assert info["mode"] == "analog" and info["sizes"] == [164, 20, 10]


def test_info_prints_version(trained_dir: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _run(["info", str(trained_dir / "model.pt"), "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["neuroff_version"] == __version__ == info["current_version"]
    assert info["epoch"] == 1 and info["sizes"] == [64 + 100, 200]


def test_evaluate_prints_accuracy(trained_dir: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _run(["evaluate", str(trained_dir / "model.pt"), "--n-test", "50"], capsys)
    assert code == 0
    result = json.loads(out)
    metrics = json.loads((trained_dir / "metrics.json").read_text())
    # same 50 test samples, same evaluation seed: the accuracy recorded during training
    assert result["test_accuracy"] == metrics["epochs"][0]["test_accuracy"]
    assert result["dataset"] == "digits"


def test_resume_via_cli(trained_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _run(["train", "--resume", str(trained_dir / "model.pt"), "--epochs", "2", "--quiet", "--out", str(tmp_path)], capsys)
    assert code == 0
    assert json.loads(out.strip().splitlines()[-1])["epochs"] == 2
    assert len(json.loads((tmp_path / "metrics.json").read_text())["epochs"]) == 2


def test_unknown_dataset(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = _run(["train", "--dataset", "imagenet", *SMALL, "--out", str(tmp_path)], capsys)
    _assert_one_line_error(code, err, "unknown dataset", "imagenet")
    assert not (tmp_path / "model.pt").exists()


def test_missing_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for command in ("evaluate", "info"):
        code, _, err = _run([command, str(tmp_path / "nope.pt")], capsys)
        _assert_one_line_error(code, err, "not found")


def test_corrupt_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"PK\x03\x04 definitely not a checkpoint" * 10)
    code, _, err = _run(["evaluate", str(path)], capsys)
    _assert_one_line_error(code, err, "corrupt")


def test_foreign_torch_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "model.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    code, _, err = _run(["info", str(path)], capsys)
    _assert_one_line_error(code, err, "not a neuroff checkpoint")


def test_evaluate_eval_repeats_reads_the_same_weights_with_averaged_presentations(trained_dir: Path, capsys: pytest.CaptureFixture) -> None:
    """--eval-repeats R at evaluation equals the engine's read-out with that R, and R < 1 is refused up front."""
    from dataclasses import replace

    from neuroff import engine
    from neuroff.data import load_dataset

    code, out, _ = _run(["evaluate", str(trained_dir / "model.pt"), "--full-test", "--eval-repeats", "3", "--quiet"], capsys)
    assert code == 0
    result = json.loads(out)
    trained = engine.load_trained(trained_dir / "model.pt")
    ds = load_dataset("digits", seed=trained.config.seed).subset(trained.config.n_train, None)
    averaged = replace(trained, config=replace(trained.config, eval_repeats=3))
    assert result["eval_repeats"] == 3 and result["test_accuracy"] == engine.evaluate(averaged, ds.x_test, ds.y_test)
    assert result["test_accuracy"] != engine.evaluate(trained, ds.x_test, ds.y_test)  # the run's own read-out (R = 1) differs here
    code, _, err = _run(["evaluate", str(trained_dir / "model.pt"), "--eval-repeats", "0"], capsys)
    _assert_one_line_error(code, err, "--eval-repeats 0", ">= 1")


def test_evaluate_on_dataset_of_other_shape(trained_dir: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = _run(["evaluate", str(trained_dir / "model.pt"), "--dataset", "mnist5k", "--n-test", "20"], capsys)
    _assert_one_line_error(code, err, "input features")


@pytest.mark.parametrize("value", ["0", "abc", "200,-3"])
def test_bad_layers_is_an_argparse_error(value: str, capsys: pytest.CaptureFixture) -> None:
    code, _, err = _run(["train", "--layers", value, *SMALL], capsys)
    assert code == 2
    assert "Traceback" not in err
    assert "error: argument --layers" in err and "e.g. 200,200" in err


def test_odd_layer_with_sym_head(capsys: pytest.CaptureFixture) -> None:
    code, _, err = _run(["train", "--layers", "7", "--head", "sym", *SMALL], capsys)
    _assert_one_line_error(code, err, "must be even")


def test_config_file_not_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "cfg.json"
    path.write_text("layers: [200]\n")
    code, _, err = _run(["train", "--config", str(path), *SMALL], capsys)
    _assert_one_line_error(code, err, "not valid JSON")


def test_config_file_not_an_object(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "cfg.json"
    path.write_text("[1, 2]")
    code, _, err = _run(["train", "--config", str(path), *SMALL], capsys)
    _assert_one_line_error(code, err, "JSON object")


def test_config_file_unknown_key(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"layers": [20], "learning_rate": 0.1}))
    code, _, err = _run(["train", "--config", str(path), *SMALL], capsys)
    _assert_one_line_error(code, err, "unknown config option", "learning_rate")


def test_config_file_missing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = _run(["train", "--config", str(tmp_path / "none.json"), *SMALL], capsys)
    _assert_one_line_error(code, err, "not found")


def test_config_file_is_used_and_flags_override(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"mode": "analog", "layers": [12], "batch_size": 16, "seed": 5}))
    code, _, _ = _run(["train", "--config", str(path), "--layers", "14", *SMALL, "--out", str(tmp_path / "o")], capsys)
    assert code == 0
    config = json.loads((tmp_path / "o" / "metrics.json").read_text())["config"]
    assert config["mode"] == "analog" and config["seed"] == 5 and config["layers"] == [14]


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    """The real process: a corrupt checkpoint gives one stderr line and exit status 2."""
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x00" * 100)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run(
        [sys.executable, "-m", "neuroff.cli", "evaluate", str(path)], capture_output=True, text=True, env=env, timeout=120
    )
    _assert_one_line_error(proc.returncode, proc.stderr, "corrupt")
    assert proc.stdout == ""
