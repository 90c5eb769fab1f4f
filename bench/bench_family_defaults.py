"""Default epochs of every rule family, chosen on a validation split of digits, then tested once.

For each family and substrate (its own defaults for everything else), three seeds train on 80 % of the digits
training set for --max-epochs epochs; the default is the fewest candidate epochs whose mean
validation accuracy is within 1 point of the best candidate's. Then the bare command
`neuroff train --rule R --dataset digits` (the chosen epochs) is trained on the full training set
per seed and its test accuracy and wall time are reported once. Writes
bench/results/family_defaults.json.

    .venv/bin/python bench/bench_family_defaults.py            # ~5 min on one core
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from neuroff.cli import Parser, guarded
from neuroff.data import load_dataset
from neuroff.engine.options import FFConfig
from neuroff.families.registry import FAMILIES
from neuroff.io import write_json
from neuroff.studies.selection import mean_curve, smallest_sufficient_epochs, test_once, validation_curves

CANDIDATES = (1, 2, 3, 5, 10, 15, 20, 30)


def main() -> None:
    parser = Parser(prog="bench_family_defaults.py", description=__doc__.splitlines()[0])
    parser.add_argument("--max-epochs", type=int, default=30, help="longest validation curve (default 30)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per family (default 3)")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma list (default all)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "family_defaults.json"))
    parser.add_argument("--merge", action="store_true", help="keep the stored rows of families not run now")
    args = parser.parse_args()
    ds = load_dataset("digits", seed=0)
    seeds = list(range(args.seeds))
    results = {}
    cases = [(n, m, {}) for n in args.families.split(",") for m in FAMILIES[n].modes]
    if "ff" in args.families.split(","):
        cases.append(("ff", "spiking", {"encoder": "latency"}))  # the encoder brings its own defaults
    for name, mode, extra in cases:
        config = FFConfig(rule=name, mode=mode, dataset="digits", epochs=args.max_epochs, **extra).validate()
        curve = mean_curve(validation_curves(config, ds, seeds))
        chosen = smallest_sufficient_epochs(curve, CANDIDATES)
        bare = FFConfig(rule=name, mode=mode, dataset="digits", epochs=chosen, **extra).validate()
        rows = test_once(bare, ds, seeds)
        acc = [r["test_accuracy"] for r in rows]
        secs = [r["seconds"] for r in rows]
        flags = "".join(f" --{k.replace('_', '-')} {v}" for k, v in extra.items())
        key = f"{name} --mode {mode}{flags}"
        results[key] = {
            "mode": bare.mode, "validation_curve": curve, "chosen_epochs": chosen, "test": rows,
            "test_mean": statistics.mean(acc), "test_sd": statistics.stdev(acc) if len(acc) > 1 else 0.0,
            "seconds_mean": statistics.mean(secs),
            "command": f"neuroff train --rule {name} --mode {mode}{flags} --dataset digits --epochs {chosen}",
        }
        row = results[key]
        print(f"{key:34s} epochs {chosen:2d}  validation {curve[chosen - 1]:.3f}  "
              f"test {row['test_mean']:.3f} ± {row['test_sd']:.3f}  {row['seconds_mean']:.1f} s", flush=True)
    if args.merge and Path(args.out).exists():
        results = {**json.loads(Path(args.out).read_text())["families"], **results}
    write_json(args.out, {"candidates": list(CANDIDATES), "seeds": seeds, "validation_fraction": 0.2, "families": results})


if __name__ == "__main__":
    sys.exit(guarded(main))
