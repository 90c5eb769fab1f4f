"""`neuroff sweep` on real Ray Tune: a grid with seed repeats on local Ray writes one ordinary run
directory per trial, a results table with mean ± sd, and a best config that `neuroff train
--config` reproduces bit for bit; bad specs and unreachable clusters are one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import torch

from neuroff.cli import main
from neuroff.errors import NeuroffError
from neuroff.studies.sweep import check_address, load_spec

BASE = {"dataset": "digits", "mode": "analog", "epochs": 1, "n_train": 200, "n_test": 60}


def _run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def _write(tmp_path: Path, data: object, name: str = "spec.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def _state(path: Path) -> dict:
    return torch.load(path, weights_only=True)["state_dict"]


@pytest.mark.slow  # ~45 s of Ray start-up and 4 workers; the default suite reproduces best.json in the 2-seed test
def test_four_trial_grid_on_local_ray_and_the_best_config_reproduces(tmp_path, capsys):
    spec = _write(tmp_path, {"base": BASE, "grid": {"layers": [[8], [16]], "analog_lr": [0.003, 0.01]}, "validation": 40})
    code, out, err = _run(["sweep", str(spec), "--out", str(tmp_path / "sw")], capsys)
    assert code == 0, err
    sw = tmp_path / "sw"
    runs = sorted(p.name for p in (sw / "runs").iterdir())
    assert len(runs) == 4 and all((sw / "runs" / r / "model.pt").exists() and (sw / "runs" / r / "metrics.json").exists() for r in runs)
    assert len((sw / "results.csv").read_text().strip().splitlines()) == 1 + 4  # header + one row per configuration
    summary = json.loads((sw / "sweep.json").read_text())
    means = [r["mean"] for r in summary["rows"]]
    assert means == sorted(means, reverse=True)  # ranked by validation accuracy
    assert 0.0 <= summary["best"]["test_accuracy"] <= 1.0 and (sw / "sweep.png").exists() and (sw / "results.md").exists()
    code, _, err = _run(["train", "--config", str(sw / "best.json"), "--out", str(tmp_path / "again"), "--quiet"], capsys)
    assert code == 0, err
    trial = Path(summary["best"]["trial"])
    for key, value in _state(trial / "model.pt").items():
        assert torch.equal(value, _state(tmp_path / "again" / "model.pt")[key]), key


def test_one_configuration_two_seeds_reports_mean_and_sd(tmp_path, capsys):
    config = _write(tmp_path, {**BASE, "layers": [16], "validation": 40}, "config.json")
    code, out, err = _run(["sweep", "--seeds", "2", str(config), "--out", str(tmp_path / "sw")], capsys)
    assert code == 0, err
    (row,) = json.loads((tmp_path / "sw" / "sweep.json").read_text())["rows"]
    runs = sorted(p.name for p in (tmp_path / "sw" / "runs").iterdir())
    assert runs == ["seed=0", "seed=1"] and row["n"] == 2 and row["sd"] >= 0.0 and "±" in out
    # the best trial's configuration, trained again outside Ray, gives the same weights bit for bit
    summary = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    code, _, err = _run(["train", "--config", str(tmp_path / "sw" / "best.json"), "--out", str(tmp_path / "again"), "--quiet"], capsys)
    assert code == 0, err
    trial = Path(summary["best"]["trial"])
    for key, value in _state(trial / "model.pt").items():
        assert torch.equal(value, _state(tmp_path / "again" / "model.pt")[key]), key


@pytest.mark.parametrize(
    "spec, needle",
    [
        ("{not json", "is not valid JSON"),
        ({"base": BASE, "grid": {"layerz": [[8]]}}, "unknown parameter(s) layerz"),
        ({"base": BASE, "grid": {"layers": []}}, "empty range"),
        ({"base": BASE, "grid": {"layers": [[8]]}, "metric": "test_accuracy"}, "no trial reports the metric 'test_accuracy'"),
        ({"base": BASE, "search": "random", "space": {"analog_lr": {"loguniform": [0.1, 0.01]}}}, "empty range"),
        ({"base": {**BASE, "mode": "quantum"}}, "mode"),
        ({"base": BASE, "search": "optuna", "space": {"analog_lr": {"loguniform": [0.001, 0.1]}}, "seeds": 2}, "optuna draws one seed"),
        ({"base": BASE, "scheduler": "hyperband"}, "unknown scheduler"),
    ],
)
def test_bad_specs_are_one_line_errors_before_any_trial(spec, needle, tmp_path, capsys):
    code, _, err = _run(["sweep", str(_write(tmp_path, spec)), "--out", str(tmp_path / "sw")], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith("neuroff: error:") and needle in err, err
    assert not (tmp_path / "sw" / "runs").exists()


def test_yaml_spec_and_the_short_form(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "spec.yaml"
    path.write_text("base:\n  dataset: digits\n  mode: analog\ngrid:\n  layers: [[8], [16]]\nseeds: 3\n")
    spec = load_spec(path)
    assert spec.grid == {"layers": [[8], [16]]} and spec.seeds == 3
    path.write_text("dataset: digits\nmode: analog\nepochs: 2\n")  # a plain train config: one configuration, N seeds
    short = load_spec(path, seeds=5)
    assert short.base == {"dataset": "digits", "mode": "analog", "epochs": 2} and short.seeds == 5 and not short.grid


def test_an_address_where_no_cluster_answers_is_refused_quickly():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NeuroffError, match=f"no Ray cluster answers at 127.0.0.1:{port}"):
        check_address(f"127.0.0.1:{port}", timeout=1.0)


def test_two_trials_on_a_real_ray_cluster_by_address(tmp_path):
    """A real `ray start --head` on loopback; the sweep joins it by --address from its own process
    (Ray caches its authentication per process, and this one already ran a local Ray)."""
    ray = shutil.which("ray", path=str(Path(os.sys.executable).parent))
    # Ray >= 2.59 authenticates clusters by a token: the same one for the cluster and the client
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "neuroff-test-" + os.urandom(8).hex()}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([ray, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
                    "--node-ip-address=127.0.0.1"], check=True, capture_output=True, timeout=180, env=env)  # fmt: skip
    try:
        spec = _write(tmp_path, {"base": BASE, "seeds": 2, "validation": 40})
        done = subprocess.run([os.sys.executable, "-m", "neuroff.cli", "sweep", str(spec), "--out", str(tmp_path / "sw"),
                               "--address", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert len(list((tmp_path / "sw" / "runs").iterdir())) == 2
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120, env=env)
