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

from neuroff.core.loihi_learning import (
    OnChipNet,
    RandomStreams,
    run_emulator,
    y_decay_factor,
)
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
        arrays["params"] = np.array([net.du, net.dv, net.vth, net.trace.dz, net.trace.impulse, r.mant, r.exp, r.rng_seed, net.learn_start,
                                     int(net.m_every_step)], np.int64)
        arrays["rule"] = np.array(r.lava_string())  # the dw string Lava's Loihi3FLearningRule parses
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
    for record in (False, True):  # compile / load both specialisations before timing
        run_emulator(net, [w.copy() for w in start], spikes[:1], positive[:1], RandomStreams(net.rule.rng_seed), record=record)
    emu_w = [w.copy() for w in start]
    emu = run_emulator(net, emu_w, spikes, positive, RandomStreams(net.rule.rng_seed), record=True)
    # timed without recording (what training runs): the best of 5 (the run is short; a shared machine is noisy)
    emu_s = float("inf")
    for _ in range(5):
        t1 = time.perf_counter()
        run_emulator(net, [w.copy() for w in start], spikes, positive, RandomStreams(net.rule.rng_seed))
        emu_s = min(emu_s, time.perf_counter() - t1)
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
        "_counts": emu.counts.tolist(),
    }


# --- Cost of on-chip learning ------------------------------------------------------------------------
# Per-core storage the learning engine needs, in bits (Lava 0.10 learning Vars, connection.py
# LearningConnectionModelBitApproximate: x1, x2 7-bit + tx 6-bit per input; y1..y3 7-bit + ty 6-bit
# per neuron; a 9-bit signed learned weight per synapse). Per-core limits: loihi.LOIHI2.
X_TRACE_BITS = 7 + 7 + 6
Y_TRACE_BITS = 3 * 7 + 6
LEARNED_WEIGHT_BITS = 9
PRODUCTS = 2  # x0 y1 y2 and x0 y1 y3: evaluated for every synapse whose input spiked, every step


def learning_resources(sizes: list[int], input_spikes: list[float] | None = None) -> dict[str, Any]:
    """Memory per layer (one layer per core while it fits) against Loihi 2's per-core limits, and,
    given the mean input spikes per presentation of each layer, synaptic and learning-engine
    operations per presentation."""
    from neuroff.export.loihi import LOIHI2

    neurons_per_core = LOIHI2["max_neurons_per_core"][0]
    syn_bytes_per_core = LOIHI2["synaptic_memory_bytes_per_core"][0]
    layers = []
    for i, (d, n) in enumerate(zip(sizes[:-1], sizes[1:])):
        syn_bytes = d * n * LEARNED_WEIGHT_BITS / 8
        trace_bytes = (d * X_TRACE_BITS + n * Y_TRACE_BITS) / 8
        cores = max(-(-n // neurons_per_core), -(-int(syn_bytes + trace_bytes) // syn_bytes_per_core))
        row = {"layer": i, "fan_in": d, "neurons": n, "synaptic_bytes": syn_bytes, "trace_bytes": trace_bytes, "cores": cores}
        if input_spikes is not None:
            row["synaptic_ops"] = input_spikes[i] * n
            row["learning_products"] = PRODUCTS * input_spikes[i] * n
        layers.append(row)
    return {"layers": layers, "neurons_per_core": neurons_per_core, "synaptic_bytes_per_core": syn_bytes_per_core}


def format_learning_resources(est: dict[str, Any]) -> str:
    lines = ["on-chip learning cost (per presentation; memory per layer vs Loihi 2 per-core limits):"]
    for r in est["layers"]:
        ops = (f", {r['synaptic_ops']:.0f} synaptic ops, {r['learning_products']:.0f} learning-engine products"
               if "synaptic_ops" in r else "")
        lines.append(
            f"  layer {r['layer']} ({r['fan_in']}->{r['neurons']}): weights {r['synaptic_bytes'] / 1024:.1f} KiB + traces "
            f"{r['trace_bytes'] / 1024:.2f} KiB of {est['synaptic_bytes_per_core'] // 1024} KiB/core (estimate), "
            f"{r['neurons']} of {est['neurons_per_core']} neurons/core -> {r['cores']} core(s){ops}"
        )
    return "\n".join(lines)


# --- The command -------------------------------------------------------------------------------------
def onchip_from_trained(trained: Any) -> tuple[OnChipNet, list[np.ndarray]]:
    """The learning network and integer weights of a checkpoint: a --mode loihi one as it is, a
    --mode spiking one mapped with k = --onchip-vth / --threshold (refused when the chip cannot hold it)."""
    from neuroff.core.loihi_learning import check_learning_weights
    from neuroff.families.ff.onchip import OnChipFFNet, integer_weights, onchip_net

    c = trained.config
    if isinstance(trained.model, OnChipFFNet):
        return trained.model.net, [w.numpy().astype(np.int64).copy() for w in trained.model.int_weights]
    if c.rule != "ff" or c.mode != "spiking":
        raise NeuroffError(f"--learn needs an ff checkpoint trained with --mode loihi or --mode spiking; this one is --rule {c.rule} --mode {c.mode}")
    net = onchip_net(c, list(trained.model.sizes))
    k = net.vth / c.threshold
    weights = [integer_weights(w.detach(), k).numpy() for w in trained.model.weights]
    for w in weights:
        check_learning_weights(w)
    return net, weights


FRESH = "fresh"  # --learn fresh: a new network, not a checkpoint (a directory of that name: ./fresh)


def fresh_network(dataset: str | None, config_file: str | None) -> Any:
    """The untrained network ``neuroff train --mode loihi`` would start from: ff --mode loihi with the
    options of ``config_file`` (a JSON file as ``train --config`` reads), on ``dataset`` if given;
    the same seeded initialisation, including the deeper layers' scaling to their input rate."""
    from neuroff.engine.options import FFConfig, load_config_file
    from neuroff.engine.training import create, prepare_dataset

    data: dict[str, Any] = {"rule": "ff", "mode": "loihi"}
    data |= load_config_file(config_file) if config_file else {}
    if dataset is not None:
        data["dataset"] = dataset
    config = FFConfig.from_dict(data)
    config.validate(set(data))
    return create(config, prepare_dataset(config))


def run_lava_learn(checkpoint: str, dataset: str | None, samples: int, venv: str | Path, config_file: str | None = None) -> dict[str, Any]:
    """Train ``samples`` samples (a positive and a negative presentation each) from the checkpoint, or
    from a fresh network (``checkpoint == "fresh"``, options from ``config_file``), in Lava and in the
    emulator; the report counts differing weights and spikes after every presentation."""
    import torch

    from neuroff import engine
    from neuroff.data import load_dataset
    from neuroff.engine.training import make_batch
    from neuroff.export.lava import ensure_lava_venv, lava_venv_problem

    problem = lava_venv_problem(venv)
    if problem:
        raise NeuroffError(problem)
    if samples < 1:
        raise NeuroffError(f"--samples {samples} must be >= 1")
    if config_file is not None and checkpoint != FRESH:
        raise NeuroffError(f"--config applies only to --learn {FRESH} (a checkpoint brings its own options); drop --config, or use --learn {FRESH}")
    trained = fresh_network(dataset, config_file) if checkpoint == FRESH else engine.load_trained(checkpoint)
    net, weights = onchip_from_trained(trained)
    name = dataset or trained.config.dataset
    ds = load_dataset(name, seed=trained.config.seed)
    if ds.x_train.shape[1] + trained.embedding.extra_features != trained.model.sizes[0]:
        raise NeuroffError(f"the model takes {trained.model.sizes[0] - trained.embedding.extra_features} pixels, {name} has {ds.x_train.shape[1]}; use the dataset it was trained on ({trained.config.dataset})")
    samples = min(samples, len(ds.x_train))
    batch = make_batch(trained, ds.x_train[:samples], ds.y_train[:samples], ds.n_classes)
    xs = torch.stack([batch.x, batch.x_neg], 1).reshape(2 * samples, -1)
    spikes = trained.model.encode(xs, batch.generator).permute(1, 0, 2).to(torch.uint8).contiguous().numpy()
    positive = np.tile(np.array([1, 0], np.uint8), samples)
    python = ensure_lava_venv(venv)
    report = compare_learning(python, net, weights, spikes, positive)
    report["dataset"] = name
    report["samples"] = samples
    report["start"] = f"a fresh network (seed {trained.config.seed})" if checkpoint == FRESH else str(checkpoint)
    report["rule"] = net.rule.lava_string()
    report["m_timing"] = net.m_timing
    sizes = list(trained.model.sizes)
    in_spikes = [float(spikes.reshape(2 * samples, -1).sum(1).mean())]
    in_spikes += [float(c) for c in np.asarray(report.pop("_counts")).mean(0)[:-1]]
    report["resources"] = learning_resources(sizes, in_spikes)
    return report


def print_learn_report(r: dict[str, Any]) -> None:
    per_sample = np.asarray(r["differing_weights"]).reshape(-1, 2).sum(1)
    spikes = np.asarray(r["differing_spikes"]).reshape(-1, 2).sum(1)
    print(f"on-chip learning on {r['dataset']}, layers {r['layers']}, rule '{r['rule']}', M timing {r['m_timing']}: {r['samples']} samples "
          f"({r['presentations']} presentations, positive then negative) from {r['start']}")
    print("differing weights (Lava vs emulator) after each sample: " + " ".join(str(int(v)) for v in per_sample))
    print(f"differing weights: {int(per_sample.max())} at most; differing spikes: {int(spikes.sum())} in all; "
          f"differing M: {r['differing_m']}; weights changed by learning: {r['weights_changed_by_learning']}")
    print(f"time per presentation: Lava {r['lava_s_per_presentation'] * 1e3:.1f} ms, emulator {r['emulator_s_per_presentation'] * 1e3:.3f} ms")
    print(format_learning_resources(r["resources"]))
