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
