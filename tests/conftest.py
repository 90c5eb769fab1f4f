"""Shared test set-up.

One torch thread: the tests run many tiny tensor operations, where a second intra-op thread
only adds synchronisation, and on a loaded 2-core machine its spin-waiting makes the suite
~10x slower (spiking mini-batch training: 1 s of CPU with one thread, 11 s with two)."""

import torch

torch.set_num_threads(1)

import pytest


@pytest.fixture(autouse=True)
def _runs_land_in_a_temporary_directory(tmp_path, monkeypatch):
    """`neuroff train` without --out saves to ./runs/...: tests run in their own directory, never the checkout."""
    monkeypatch.chdir(tmp_path)
