"""Defaults of the spiking and analog FF learner on digits, chosen on a validation split.

A small grid per configuration (rate-coded spiking, latency-coded spiking, analog), two seeds,
20 % of the digits training set held out; prints every point's mean validation curve and the
best (fewest epochs within 0.5 point of the best) per configuration, and writes
bench/results/ff_defaults.json. The test set is not read here; bench_family_defaults.py tests
the chosen defaults once.

    .venv/bin/python bench/bench_ff_defaults.py --configs rate,analog,latency      # ~15 min, one core
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from neuroff.cli import Parser, guarded
from neuroff.data import load_dataset
from neuroff.engine.options import FFConfig
from neuroff.io import write_json
from neuroff.studies.selection import mean_curve, smallest_sufficient_epochs, validation_curves

GRIDS = {
    "rate": (dict(mode="spiking", epochs=10),
             {"max_rate": [0.5, 1.0], "lr": [0.001, 0.002, 0.004], "lr_decay": [0.8, 0.9]}),
    "analog": (dict(mode="analog", epochs=20),
               {"analog_lr": [0.003, 0.01], "lr_decay": [0.9, 1.0], "layers": [[200], [500]]}),
    "latency": (dict(mode="spiking", epochs=10, encoder="latency", pre_trace="leaky", learn_start=5),
                {"threshold": [0.2, 0.5], "beta": [0.95], "init_scale": [3.0], "lr": [0.003, 0.006],
                 "pre_trace_decay": [0.9], "lr_decay": [0.9, 1.0]}),
}


def main() -> None:
    parser = Parser(prog="bench_ff_defaults.py", description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=",".join(GRIDS), help="comma list of " + ", ".join(GRIDS))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "ff_defaults.json"))
    args = parser.parse_args()
    ds = load_dataset("digits", seed=0)
    results: dict = {}
    for name in args.configs.split(","):
        base, grid = GRIDS[name]
        rows = []
        for values in itertools.product(*grid.values()):
            point = dict(zip(grid, values))
            curve = mean_curve(validation_curves(FFConfig(rule="ff", dataset="digits", **base, **point), ds, range(args.seeds)))
            epochs = smallest_sufficient_epochs(curve, range(1, len(curve) + 1), tolerance=0.005)
            rows.append({"point": point, "curve": curve, "epochs": epochs, "validation": curve[epochs - 1]})
            print(f"{name:8s} {point} -> {epochs:2d} epochs, validation {curve[epochs - 1]:.4f}  "
                  f"({' '.join(f'{v:.3f}' for v in curve)})", flush=True)
        best = max(rows, key=lambda r: (round(r["validation"], 3), -r["epochs"]))
        print(f"{name:8s} best {best['point']} {best['epochs']} epochs, validation {best['validation']:.4f}", flush=True)
        results[name] = {"base": base, "grid": grid, "rows": rows, "best": best}
    write_json(args.out, {"seeds": args.seeds, "validation_fraction": 0.2, "configs": results})


if __name__ == "__main__":
    sys.exit(guarded(main))
