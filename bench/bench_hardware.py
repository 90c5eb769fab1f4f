"""Hardware benchmark: the fixed-point reference vs a real Lava run, per test sample (every
candidate label presented), on the same exported model.net and the same spikes. Also prints the
float vs fixed-point test accuracy of the export. Writes bench/results/hardware.json.

    .venv/bin/python bench/bench_hardware.py CKPT [--samples 20] [--reference-samples 500]

CKPT is a spiking checkpoint (e.g. `neuroff train --dataset digits --epochs 3 --out runs/d`).
Needs the Lava venv (`make lava-venv`).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from neuroff.cli import Parser, guarded
from neuroff import engine
from neuroff.core.encoding import CandidateSpikes
from neuroff.export.lava import encode_presentations, label_features, run_lava
from neuroff.export.loihi import export_loihi, load_sidecar, read_netx
from neuroff.io import write_json
from neuroff.layers.fixed_point import run_fixed


def main() -> None:
    parser = Parser(prog="bench_hardware.py", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--samples", type=int, default=20, help="test samples run on Lava")
    parser.add_argument("--reference-samples", type=int, default=500, help="test samples timed on the fixed-point reference")
    parser.add_argument("--out", default="bench/results/hardware.json")
    args = parser.parse_args()
    torch.set_num_threads(1)

    trained = engine.load_trained(args.checkpoint)
    ds = engine.prepare_dataset(trained.config)
    with tempfile.TemporaryDirectory(prefix="neuroff-bench-hw-") as tmp:
        net, _, meta = export_loihi(trained, Path(tmp) / "model.net", ds.x_test, ds.y_test, source=args.checkpoint)
        q = meta["quantisation"]
        sidecar = load_sidecar(net)
        layers = read_netx(net).layers
        spikes = encode_presentations(sidecar, ds.x_test[: args.reference_samples], 0)
        s, c, steps, d = spikes.shape
        by_label = spikes.permute(2, 0, 1, 3)  # [T, S, C, D]
        varying = label_features(sidecar)
        run_fixed(layers, CandidateSpikes.from_raster(by_label[:, :2], varying))  # warm-up
        t0 = time.perf_counter()
        run_fixed(layers, CandidateSpikes.from_raster(by_label, varying))
        ref_per_sample = (time.perf_counter() - t0) / s
        lava = run_lava(net, samples=args.samples, checkpoint=args.checkpoint)
    result = {
        "checkpoint": args.checkpoint,
        "dataset": ds.name,
        "float_accuracy": q["float_accuracy"],
        "fixed_accuracy": q["fixed_accuracy"],
        "test_samples": q["n_samples"],
        "spike_agreement_float_vs_fixed": q["spike_agreement"],
        "lava_samples": lava["samples"],
        "lava_mismatched_spikes": lava["mismatched_spikes"],
        "lava_accuracy": lava["lava_accuracy"],
        "reference_accuracy_on_lava_samples": lava["fixed_accuracy"],
        "lava_compile_s": lava["lava_compile_s"],
        "lava_s_per_sample": lava["lava_s_per_sample"],
        "reference_s_per_sample": ref_per_sample,
        "speedup": lava["lava_s_per_sample"] / ref_per_sample,
    }
    print(
        f"{ds.name}: float {result['float_accuracy']:.4f} vs fixed point {result['fixed_accuracy']:.4f} "
        f"on {result['test_samples']} test samples\n"
        f"Lava on {result['lava_samples']} samples: accuracy {result['lava_accuracy']:.4f}, "
        f"{result['lava_mismatched_spikes']} mismatching spikes vs the reference\n"
        f"per sample ({c} labels x {steps} steps): Lava {result['lava_s_per_sample'] * 1e3:.1f} ms "
        f"(compiled once, {result['lava_compile_s']:.1f} s), fixed-point reference "
        f"{result['reference_s_per_sample'] * 1e3:.2f} ms -> {result['speedup']:.0f}x faster"
    )
    write_json(args.out, result)
    print(json.dumps({"written": args.out}))


if __name__ == "__main__":
    sys.exit(guarded(main))
