"""The bench scripts keep the CLI's contract: `--help` prints usage and starts nothing (three of them
once ran their whole benchmark on it), and bad input is one line `neuroff: error: ...` with exit 2,
before any training. Also neuroff.io.read_json, through which they read their stored results."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from neuroff.errors import NeuroffError
from neuroff.io import read_json

BENCH = Path(__file__).resolve().parents[1] / "bench"
SCRIPTS = sorted(BENCH.glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_help_prints_usage_and_runs_nothing(script, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    monkeypatch.syspath_prepend(str(BENCH))  # the scripts import their sibling bench_core_learner
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name="__main__")
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {script.name}")


def run_bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=BENCH.parent)


@pytest.mark.parametrize("args, problem", [
    (["--runs", "no-such-run"], "no run named 'no-such-run'"),
    # the digits training set has 1,437 samples: refused before the first run trains
    (["--dataset", "digits", "--runs", "analog-1x400", "--validation", "5000"], "--validation"),
    (["--dataset", "no-such-data", "--runs", "analog-1x400"], "no-such-data"),
    # a run is stored under its name: a validation run trained on the whole set would overwrite its validation numbers
    (["--runs", "analog-1x400", "--validation", "0"], "need --validation 0"),
    (["--runs", "analog-1x2000-hard-20-batch32-eps3-final"], "need --validation 0"),
])
def test_core_learner_bench_refuses_bad_input_in_one_line(args, problem):
    done = run_bench("bench/bench_core_learner.py", *args)
    assert done.returncode == 2
    assert done.stderr.startswith("neuroff: error: ") and done.stderr.count("\n") == 1, done.stderr
    assert problem in done.stderr


def test_speed_bench_refuses_an_unknown_configuration_in_one_line():
    done = run_bench("bench/bench_speed.py", "--configs", "reference,no-such-config")
    assert done.returncode == 2
    assert done.stderr.startswith("neuroff: error: unknown configuration 'no-such-config'"), done.stderr
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize("args, problem", [
    (["--dataset", "digits", "--runs", "no-such-run"], "no stored run 'no-such-run'"),
    # a final run on the whole training set has no validation split to choose backprop's epoch on
    (["--dataset", "digits", "--runs", "latency-subtract-final"], "held out no validation split"),
    (["--dataset", "digits", "--runs", "latency-defaults", "--controls", "dropout"], "unknown control 'dropout'"),
    (["--dataset", "digits", "--runs", "latency-defaults", "--summarize"], "--out"),
])
def test_controls_bench_refuses_bad_input_in_one_line(args, problem, monkeypatch, capsys):
    before = sorted((BENCH / "results").iterdir())
    script = BENCH / "bench_core_controls.py"
    monkeypatch.setattr(sys, "argv", [str(script), *args])
    monkeypatch.syspath_prepend(str(BENCH))
    with pytest.raises(SystemExit) as exit_info:  # in-process (a subprocess would import torch again, ~2 s each)
        runpy.run_path(str(script), run_name="__main__")
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("neuroff: error: ") and err.count("\n") == 1, err
    assert problem in err
    assert sorted((BENCH / "results").iterdir()) == before  # nothing written


def test_summarize_refuses_a_run_it_has_not_stored():
    done = run_bench("bench/summarize_core_learner.py", "--runs", "no-such-run", "--out", "/tmp/never-written")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no-such-run" in done.stderr, done.stderr
    assert not Path("/tmp/never-written.json").exists()


def test_read_json_names_a_broken_file(tmp_path):
    good, broken, absent = tmp_path / "good.json", tmp_path / "broken.json", tmp_path / "absent.json"
    good.write_text('{"a": 1}')
    broken.write_text('{"a": 1')  # cut short
    assert read_json(good) == {"a": 1}
    assert read_json(absent, missing={}) == {}
    with pytest.raises(NeuroffError, match="broken.json is not valid JSON"):
        read_json(broken)
    with pytest.raises(NeuroffError, match="absent.json does not exist"):
        read_json(absent)
