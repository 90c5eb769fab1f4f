"""Hostile and mistaken input (issue 17): every case ends in one line ``neuroff: error: ...``,
exit status 2, no traceback, and leaves every file that existed before exactly as it was."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from neuroff.cli import main

SMALL = ["--n-train", "100", "--n-test", "40", "--epochs", "1", "--quiet"]


def snapshot(root: Path) -> dict[str, str]:
    """Path -> content hash (and mode) of every file under root: what a failed command must not touch."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() + oct(p.stat().st_mode)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def refused(argv: list[str], capsys: pytest.CaptureFixture, root: Path, *needles: str) -> str:
    """Run argv, expect the one-line error naming every needle, and no file under root changed."""
    before = snapshot(root)
    code, _, err = run_cli(argv, capsys)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("neuroff: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert code == 2, err
    assert snapshot(root) == before
    return lines[0]


# --- one error format (item 4) ------------------------------------------------------------------


def test_parser_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    refused(["train", "--epochs", "many"], capsys, tmp_path, "invalid int value")


def test_debug_variable_shows_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = str(tmp_path / "none.pt")
    refused(["info", missing], capsys, tmp_path, "not found")
    monkeypatch.setenv("NEUROFF_DEBUG", "1")
    code, _, err = run_cli(["info", missing], capsys)
    assert code == 2
    assert "Traceback" in err
    assert err.strip().splitlines()[-1].startswith("neuroff: error: checkpoint")


def test_unexpected_exception_is_one_line(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import neuroff.cli as cli

    def broken(argv: list[str] | None = None) -> int:
        raise ValueError("a bug\nover two lines")

    monkeypatch.setattr(cli, "run", broken)
    code, _, err = run_cli([], capsys)
    assert code == 1
    assert err.strip() == (
        "neuroff: error: internal error (ValueError: a bug over two lines); please report it (NEUROFF_DEBUG=1 shows the traceback)"
    )


# --- never remove or overwrite what neuroff did not create (item 1) -----------------------------


def test_run_lava_refuses_a_foreign_directory(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    refused(["run-lava", str(tmp_path / "model.net"), "--lava-venv", str(mine)], capsys, tmp_path,
            f"--lava-venv {mine} exists and is not a Lava venv made by neuroff")


def test_setup_script_refuses_a_foreign_directory(tmp_path: Path) -> None:
    import subprocess

    from neuroff.export.lava import HARDWARE_DIR, NOT_OURS

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    before = snapshot(tmp_path)
    proc = subprocess.run(["bash", str(HARDWARE_DIR / "setup-lava-venv.sh"), str(mine)], capture_output=True, text=True,
                          env={**os.environ, "LAVA_PYTHON": "/nonexistent"})  # fmt: skip
    assert proc.returncode == NOT_OURS, proc.stderr
    assert "not a Lava venv made by neuroff" in proc.stderr
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("extra", [["--chunk", "10"], ["--checkpoint", "x.pt"]])
def test_run_lava_learn_refuses_the_replay_options(tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str]) -> None:
    """--learn ignores nothing silently: the options of replaying a model.net are refused by name."""
    refused(["run-lava", "--learn", str(tmp_path / "run"), *extra], capsys, tmp_path, extra[0], "not to --learn")


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_corrupt_sidecar(tmp_path: Path, capsys: pytest.CaptureFixture, content: str) -> None:
    (tmp_path / "model.net").write_bytes(b"")
    (tmp_path / "model.json").write_text(content)
    refused(["run-lava", str(tmp_path / "model.net"), "--lava-venv", str(tmp_path / "venv")], capsys, tmp_path, "sidecar", "model.json")


def test_out_empty_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "model.pt").write_bytes(b"a model of the user's")  # the working directory (conftest chdir)
    refused(["train", *SMALL, "--out", ""], capsys, tmp_path, "--out '' names no directory")


def test_out_naming_a_file_is_refused_before_training(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "results.txt").write_text("keep")
    refused(["train", *SMALL, "--out", str(tmp_path / "results.txt")], capsys, tmp_path, "is an existing file, not a directory")
    refused(["train", *SMALL, "--out", str(tmp_path / "results.txt" / "run")], capsys, tmp_path, "is a file, not a directory")
    refused(["compare", "a.pt", "b.pt", "--out", str(tmp_path / "results.txt")], capsys, tmp_path, "is an existing file")


def test_second_writer_is_refused_and_stale_lock_taken_over(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import subprocess
    import sys

    from neuroff.io import LOCK_NAME, run_lock

    run = tmp_path / "run"
    with run_lock(run) as lock:
        assert lock.read_text().split()[0] == str(os.getpid())
        line = refused(["train", *SMALL, "--out", str(run)], capsys, tmp_path, f"pid {os.getpid()}", "being written by another training")
    assert not (run / LOCK_NAME).exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.split()[0]
    import socket

    (run / LOCK_NAME).write_text(f"{dead} {socket.gethostname()}\n")  # a killed training's lock
    code, out, _ = run_cli(["train", *SMALL, "--out", str(run)], capsys)
    assert code == 0 and json.loads(out)["epochs"] == 1
    assert not (run / LOCK_NAME).exists()
    assert line.count("\n") == 0


def test_epochs_zero_is_nothing_to_do(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    refused(["train", *SMALL, "--epochs", "0", "--out", str(tmp_path / "run")], capsys, tmp_path, "--epochs 0: nothing to do")
    assert not (tmp_path / "run").exists()


def test_resume_at_or_below_its_epochs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert run_cli(["train", "--layers", "8", *SMALL, "--out", str(run)], capsys)[0] == 0
    before = snapshot(tmp_path)
    code, out, err = run_cli(["train", "--resume", str(run / "model.pt"), "--quiet"], capsys)
    assert (code, out) == (0, "")
    assert err.strip() == f"neuroff: nothing to do: {run / 'model.pt'} has already trained 1 epochs; pass --epochs 2 or more to continue it"
    assert snapshot(tmp_path) == before
    refused(["train", "--resume", str(run / "model.pt"), "--epochs", "0", "--out", str(run)], capsys, tmp_path, "--epochs 0: nothing to do")


# --- checked up front (item 2) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--mode", "analog", "--analog-lr", "nan"], "--analog-lr nan must be a finite number > 0; see `neuroff train --help` for --analog-lr"),
        (["--lr", "nan"], "--lr nan must be a finite number > 0"),
        (["--lr", "inf"], "--lr inf must be a finite number > 0"),
        (["--code-bits", "0"], "--code-bits 0 must be >= 1; e.g. --code-bits 100"),
        (["--trace-decay", "-1"], "--trace-decay -1.0 must be a finite number in [0, 1]; e.g. --trace-decay 0.85"),
        (["--max-rate", "1.5"], "--max-rate 1.5 must be a finite number in (0, 1]"),
        (["--steps", "0"], "--steps 0 must be >= 1; e.g. --steps 23"),
        (["--code-p", "0"], "--code-p 0.0 must be a finite number in (0, 1)"),
        (["--rule", "contrastive-hebbian", "--ch-momentum", "1"], "--ch-momentum 1.0 must be a finite number in [0, 1)"),
        (["--n-test", "0"], "--n-test 0 must be >= 1"),
        (["--epochs", "-3"], "--epochs -3: nothing to do; pass --epochs 1 or more"),
        (["--homeostasis-target", "1.5"], "--homeostasis-target 1.5 must be a finite number in [0, 1]"),
        (["--homeostasis-tau", "0"], "--homeostasis-tau 0.0 must be a finite number in (0, 1]"),
        (["--rule", "scff", "--mode", "spiking", "--homeostasis-rate", "0.001"], "SCFF trains one layer at a time and its rule has no activity term"),
        (["--mode", "loihi", "--head", "sigma", "--homeostasis-rate", "0.001"], "the on-chip rule has no per-neuron activity term"),
    ],
)
def test_option_values_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str) -> None:
    refused(["train", *SMALL, *args, "--out", str(tmp_path / "run")], capsys, tmp_path, message)
    assert not (tmp_path / "run").exists()


def test_refused_default_run_names_no_directory(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run without --out refused by its family's build-time check does not announce a run
    directory it never makes."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["train", "--n-train", "100", "--n-test", "40", "--epochs", "1", "--rule", "scff", "--mode", "spiking",
                              "--homeostasis-rate", "0.001"], capsys)  # fmt: skip
    assert code == 2 and "SCFF trains one layer at a time" in err
    assert "saved to" not in out and not (tmp_path / "runs").exists()


def test_config_file_value_of_the_wrong_type(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "c.json").write_text(json.dumps({"lr": "fast"}))
    refused(["train", *SMALL, "--config", str(tmp_path / "c.json")], capsys, tmp_path, "--lr 'fast' is not a number")


def write_idx_split(directory: Path, y_train: list[int], n_test: int = 4) -> None:
    """A tiny MNIST-format split: 4x3 images, the given training labels, test labels 0, 1, ..."""
    import struct

    import numpy as np

    def idx(arr: np.ndarray) -> bytes:
        return struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()

    directory.mkdir()
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, size=(len(y_train), 4, 3), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.array(y_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(n_test, 4, 3), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 2).astype(np.uint8),
    }
    for name, arr in arrays.items():
        (directory / name).write_bytes(idx(arr))


def test_idx_files_with_no_samples(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_idx_split(tmp_path / "d", [])
    refused(["train", "--epochs", "1", "--quiet", "--dataset", f"idx:{tmp_path / 'd'}", "--out", str(tmp_path / "run")], capsys,
            tmp_path, "holds no samples")  # fmt: skip


def test_idx_stray_label(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_idx_split(tmp_path / "d", [0, 1, 0, 1, 200, 1])
    refused(["train", "--epochs", "1", "--quiet", "--dataset", f"idx:{tmp_path / 'd'}", "--out", str(tmp_path / "run")], capsys,
            tmp_path, "run up to 200 but class(es) 2, 3, 4, 5, 6 and 193 more have no training sample")  # fmt: skip
    assert not (tmp_path / "run").exists()


def test_network_too_large_for_memory(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import neuroff.engine.training as training

    monkeypatch.setattr(training, "available_memory", lambda: 64 * 10**9)  # the same answer on any machine
    refused(["train", *SMALL, "--layers", "100000000", "--out", str(tmp_path / "run")], capsys, tmp_path,
            "--layers 100000000 needs about 393.6 GB for its weights and training state, 64.0 GB are available", "use smaller --layers")  # fmt: skip
    assert not (tmp_path / "run").exists()


# --- run directories, test subsets, progress (items 5, 6) ---------------------------------------


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bad-input") / "run"
    with pytest.raises(SystemExit) as exc:
        main(["train", "--n-train", "300", "--n-test", "40", "--epochs", "2", "--quiet", "--out", str(out)])
    assert exc.value.code == 0
    return out


def test_evaluate_a_run_directory_on_its_own_test_subset(run_dir: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err = run_cli(["evaluate", str(run_dir)], capsys)
    result = json.loads(out)
    trained_on = json.loads((run_dir / "metrics.json").read_text())["epochs"][-1]
    assert code == 0 and result["n_test"] == trained_on["n_test"] == 40
    assert result["test_accuracy"] == pytest.approx(trained_on["test_accuracy"])
    assert "scoring" in err  # the progress bar, on stderr
    code, out, err = run_cli(["evaluate", str(run_dir), "--full-test", "--quiet"], capsys)
    assert code == 0 and json.loads(out)["n_test"] == 360 and err == ""


def test_info_summary_and_json(run_dir: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run_cli(["info", str(run_dir)], capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 4, out
    assert lines[0] == f"{run_dir / 'model.pt'}: ff (spiking), sizes 164-200, 32,800 parameters"
    assert lines[1] == "trained 2 of 2 epochs on digits (300 training samples), seed 0"
    assert lines[2].startswith("test goodness-argmax accuracy: last ") and lines[2].endswith("on 40 samples")
    code, out, _ = run_cli(["info", str(run_dir), "--json"], capsys)
    assert json.loads(out)["config"]["n_test"] == 40
    from neuroff.io import current_umask

    for name in ("model.pt", "metrics.json"):  # not the temporary file's 0600
        assert (run_dir / name).stat().st_mode & 0o777 == 0o666 & ~current_umask()


def test_export_checks_the_runs_own_test_subset(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err = run_cli(["export", str(run_dir), "--target", "loihi", "-o", str(tmp_path / "model.net")], capsys)
    assert code == 0, err
    assert "on 40 test samples" in out
    assert "float vs fixed point" in err
    code, out, _ = run_cli(["export", str(run_dir), "--target", "loihi", "-o", str(tmp_path / "m.net"), "--check-samples", "10",
                            "--quiet"], capsys)  # fmt: skip
    assert code == 0 and "on 10 test samples" in out


def test_a_directory_without_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for command in ("evaluate", "info"):
        refused([command, str(tmp_path)], capsys, tmp_path, f"{tmp_path} is a directory without model.pt")


# --- written files honour the umask (item 7) ----------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_written_files_honour_the_umask(tmp_path: Path, mask: int) -> None:
    from neuroff.io import write_json

    old = os.umask(mask)
    try:
        path = write_json(tmp_path / "m.json", {"a": 1})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


# --- divergence (item 3) ------------------------------------------------------------------------


def test_huge_learning_rate_diverges_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    refused(["train", *SMALL, "--lr", "1e30", "--out", str(tmp_path / "run")], capsys, tmp_path,
            "training diverged: layer 0 has a weight of magnitude", "beyond the bound 1e+06; lower the learning rate")  # fmt: skip
    assert not (tmp_path / "run" / "model.pt").exists()


def test_divergence_keeps_the_last_good_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import neuroff.engine.training as training

    run = tmp_path / "run"
    assert run_cli(["train", "--layers", "8", *SMALL, "--out", str(run)], capsys)[0] == 0
    monkeypatch.setattr(training, "WEIGHT_BOUND", 1e-3)  # epoch 2 "diverges"
    refused(["train", "--resume", str(run), "--epochs", "2", "--quiet", "--out", str(run)], capsys, tmp_path,
            "training diverged", "the checkpoint of the last completed epoch is kept")  # fmt: skip
    assert json.loads(run_cli(["info", str(run), "--json"], capsys)[1])["epoch"] == 1  # (refused: model.pt unchanged)


def test_out_in_a_directory_that_cannot_be_written(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import neuroff.io

    locked = tmp_path / "readonly"
    locked.mkdir()
    # as root nothing is unwritable: ask the check itself (a real 0500 directory below, when not root)
    monkeypatch.setattr(neuroff.io, "writable", lambda d: Path(d) != locked)
    refused(["train", *SMALL, "--out", str(locked / "run")], capsys, tmp_path, f"--out {locked / 'run'}: {locked} is not writable")
    monkeypatch.undo()
    if os.geteuid() != 0:
        locked.chmod(0o500)
        try:
            refused(["train", *SMALL, "--out", str(locked / "run")], capsys, tmp_path, "is not writable")
        finally:
            locked.chmod(0o700)


def test_a_live_other_process_holds_the_lock(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import socket
    import subprocess
    import sys

    from neuroff.io import LOCK_NAME

    run = tmp_path / "run"
    run.mkdir()
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # stands in for a running training
    try:
        (run / LOCK_NAME).write_text(f"{writer.pid} {socket.gethostname()}\n")
        refused(["train", *SMALL, "--out", str(run)], capsys, tmp_path,
                f"run directory {run} is being written by another training (pid {writer.pid} on {socket.gethostname()})")  # fmt: skip
    finally:
        writer.kill()
        writer.wait()


@pytest.mark.parametrize("target", ["loihi", "nir"])
def test_export_out_must_name_a_file(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture, target: str) -> None:
    for out in ("", str(tmp_path)):
        refused(["export", str(run_dir), "--target", target, "-o", out], capsys, tmp_path, f"-o {out!r} must name the file to write")
