"""`neuroff run-lava --learn`: the same on-chip training in Lava's learning engine and in neuroff's
emulator (``neuroff.core.loihi_learning``), compared after every presentation.

Lava runs in its own Python 3.10 venv as a subprocess (``hardware/neuroff_lava/learn.py``); this
side encodes the training samples (each as a positive then a negative presentation, as
``neuroff train --mode loihi`` does), writes the integer network, runs the emulator on the same
spikes, and counts the weights and spikes that differ after every presentation.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from neuroff.core.loihi_learning import OnChipNet, RandomStreams, run_emulator, y_decay_factor
from neuroff.errors import NeuroffError
from neuroff.export.lava import HARDWARE_DIR


def run_lava_learning(python: Path, net: OnChipNet, weights: list[np.ndarray], spikes: np.ndarray, positive: np.ndarray) -> dict[str, np.ndarray]:
    """Lava's result arrays (see ``neuroff_lava.learn``) for the presentations ``spikes`` [P, T, D0]."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(HARDWARE_DIR)
    with tempfile.TemporaryDirectory(prefix="neuroff-learn-") as tmp:
        inputs = Path(tmp) / "learn.npz"
        out = Path(tmp) / "result.npz"
        arrays: dict[str, Any] = {"spikes": spikes.astype(np.uint8), "positive": positive.astype(np.int64)}
        r = net.rule
        arrays["params"] = np.array([net.du, net.dv, net.vth, net.trace.dz, net.trace.impulse, r.mant, r.exp, r.rng_seed, net.learn_start], np.int64)
        for i, (w, table) in enumerate(zip(weights, net.tables)):
            arrays[f"weight_{i}"] = w.astype(np.int64)
            arrays[f"bounds_{i}"] = np.asarray(table, np.int64)
        np.savez(inputs, **arrays)
        cmd = [str(python), "-m", "neuroff_lava.learn", "--inputs", str(inputs), "--out", str(out)]
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
            raise NeuroffError(f"the Lava learning runner failed: {lines[-1] if lines else 'no output'}")
        with np.load(out) as data:
            return {k: data[k] for k in data.files}


def truncate_for_lava(w: np.ndarray) -> np.ndarray:
    """What LearningDense does to its weights before its first step (8-bit mixed-sign mantissa:
    ``lava/utils/weightutils.py`` truncate_weights drops the lowest bit)."""
    return (w.astype(np.int64) >> 1) << 1


def compare_learning(python: Path, net: OnChipNet, weights: list[np.ndarray], spikes: np.ndarray, positive: np.ndarray) -> dict[str, Any]:
    """Train on the presentations in Lava and in the emulator from the same weights; per presentation
    the number of differing weights and spikes (summed over layers)."""
    start = [truncate_for_lava(w) for w in weights]
    t0 = time.perf_counter()
    lava = run_lava_learning(python, net, start, spikes, positive)
    lava_wall = time.perf_counter() - t0
    emu_w = [w.copy() for w in start]
    t1 = time.perf_counter()
    emu = run_emulator(net, emu_w, spikes, positive, RandomStreams(net.rule.rng_seed), record=True)
    emu_s = time.perf_counter() - t1
    n_pres = spikes.shape[0]
    n_layers = len(weights)
    diff_w = np.zeros((n_pres, n_layers), np.int64)
    diff_s = np.zeros((n_pres, n_layers), np.int64)
    off = 0
    for i in range(n_layers):
        diff_w[:, i] = (lava[f"weights_{i}"] != emu.weights[i]).reshape(n_pres, -1).sum(1)
        n = weights[i].shape[0]
        diff_s[:, i] = (lava[f"spikes_{i}"] != emu.spikes[:, :, off : off + n]).reshape(n_pres, -1).sum(1)
        off += n
    changed = [int((lava[f"weights_{i}"][-1] != start[i]).sum()) for i in range(n_layers)]
    return {
        "presentations": n_pres,
        "layers": [int(w.shape[0]) for w in weights],
        "differing_weights": diff_w.sum(1).tolist(),
        "differing_spikes": diff_s.sum(1).tolist(),
        "differing_m": int((lava["m"] != emu.m).sum()),
        "weights_changed_by_learning": changed,
        "lava_spikes": int(sum(lava[f"spikes_{i}"].sum() for i in range(n_layers))),
        "m_sent": emu.m.tolist(),
        "odd_weights_truncated": [int((w != s).sum()) for w, s in zip(weights, start)],
        "y_decay_lava": float(lava["y_decay"]),
        "y_decay_neuroff": y_decay_factor(),
        "lava_first_presentation_s": float(lava["first_s"]),
        "lava_s_per_presentation": float(lava["run_s"]) / max(n_pres - 1, 1),
        "lava_wall_s": lava_wall,
        "emulator_s_per_presentation": emu_s / n_pres,
        "max_dendritic_sum": emu.max_a.tolist(),
    }
