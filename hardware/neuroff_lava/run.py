"""Command line: run encoded presentations through a neuroff netx export on Lava and classify.

    python -m neuroff_lava.run model.net --inputs spikes.npz --out result.npz

``spikes.npz`` holds ``spikes`` uint8 [S, C, T, D] (every sample with every candidate label
embedded, already spike-encoded) and optionally ``labels`` int [S]. ``result.npz`` gets
``layer_<l>`` uint8 [S, C, T, N_l] (aligned time), ``scores`` [S, C], ``predictions`` [S] and
the timings; a one-line JSON summary goes to stdout. The decode rule and the reset interval
come from the sidecar ``model.json`` next to ``model.net``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np

from neuroff_lava.decode import candidate_scores, has_readout
from neuroff_lava.runner import run_presentations


def _save_npz_atomic(path: str, **arrays: np.ndarray) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".lava-result.", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="neuroff_lava.run", description=__doc__.splitlines()[0])
    parser.add_argument("netx", help="model.net written by `neuroff export --target loihi`")
    parser.add_argument("--inputs", required=True, help="npz with spikes [S, C, T, D] (and labels [S])")
    parser.add_argument("--out", required=True, help="npz to write the rasters, scores and predictions to")
    parser.add_argument("--chunk", type=int, default=500, help="presentations per Lava run call (progress reports)")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)

    sidecar_path = os.path.splitext(args.netx)[0] + ".json"
    try:
        with open(sidecar_path) as f:
            sidecar = json.load(f)
        with np.load(args.inputs) as data:
            spikes = data["spikes"]
            labels = data["labels"] if "labels" in data else None
    except (OSError, KeyError, ValueError) as err:
        print(f"neuroff_lava: error: {err}", file=sys.stderr)
        return 2
    if spikes.ndim != 4:
        print(f"neuroff_lava: error: spikes must be [S, C, T, D], got shape {spikes.shape}", file=sys.stderr)
        return 2
    n_samples, n_classes, steps, n_in = spikes.shape
    run = run_presentations(
        args.netx,
        spikes.reshape(n_samples * n_classes, steps, n_in),
        reset_interval=sidecar["timing"]["reset_interval"],
        chunk=args.chunk,
        progress=args.progress,
    )
    scores = candidate_scores(run.rasters, sidecar["decode"], n_classes)
    predictions = scores.argmax(1)
    out = {f"layer_{i}": r.reshape(n_samples, n_classes, steps, -1) for i, r in enumerate(run.rasters)}
    summary = {
        "samples": int(n_samples),
        "presentations": int(n_samples * n_classes),
        "sim_steps": int(run.sim_steps),
        "compile_s": run.compile_s,
        "run_s": run.run_s,
        "run_s_per_sample": run.run_s / max(n_samples, 1),
    }
    if labels is not None and has_readout(sidecar["decode"]):  # no head: no prediction to score
        summary["accuracy"] = float((predictions == labels).mean()) if n_samples else float("nan")
    _save_npz_atomic(
        args.out, scores=scores, predictions=predictions, summary=np.array(json.dumps(summary)), **out
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
