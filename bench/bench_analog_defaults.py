"""The analog FF twin's defaults on digits, chosen on a validation split, then tested once.

Candidates (each with the family's other defaults): Adam learning rate, batch size, head, hard
negatives, width. For each, three seeds train on 80 % of the digits training set for 30 epochs;
its epoch count is the fewest candidate epochs within 1 point of its best (as
bench/bench_family_defaults.py), and the candidate with the highest mean validation accuracy at
that count wins. The bare `neuroff train --mode analog` (the winner's options as the family's
defaults) then trains on the full training set per seed and meets the test set once.
Writes bench/results/analog_defaults.json.

    .venv/bin/python bench/bench_analog_defaults.py      # ~4 min on one core
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from neuroff.cli import Parser, guarded
from neuroff.data import load_dataset
from neuroff.engine.options import FFConfig
from neuroff.io import write_json
from neuroff.studies.selection import mean_curve, smallest_sufficient_epochs, test_once, validation_curves

EPOCHS = (1, 2, 3, 5, 10, 15, 20, 30)
CANDIDATES = {
    "adam 0.003, batch 64": {"analog_lr": 0.003},
    "adam 0.001": {"analog_lr": 0.001},
    "adam 0.01": {"analog_lr": 0.01},
    "adam 0.003, batch 32": {"analog_lr": 0.003, "batch_size": 32},
    "adam 0.003, sigma head": {"analog_lr": 0.003, "head": "sigma"},
    "adam 0.003, hard negatives": {"analog_lr": 0.003, "negatives": "hard"},
    "adam 0.003, 1x400": {"analog_lr": 0.003, "layers": [400]},
}
OUT = Path(__file__).parent / "results" / "analog_defaults.json"


def main() -> None:
    Parser(prog="bench_analog_defaults.py", description=__doc__.splitlines()[0]).parse_args()  # --help, and no stray arguments
    ds = load_dataset("digits", seed=0)
    seeds = [0, 1, 2]
    rows = {}
    for name, options in CANDIDATES.items():
        config = FFConfig(mode="analog", dataset="digits", epochs=max(EPOCHS), **options).validate()
        curve = mean_curve(validation_curves(config, ds, seeds))
        chosen = smallest_sufficient_epochs(curve, EPOCHS)
        rows[name] = {"options": options, "validation_curve": curve, "chosen_epochs": chosen, "validation": curve[chosen - 1]}
        print(f"{name:28s} epochs {chosen:2d}  validation {curve[chosen - 1]:.4f}  (best {max(curve):.4f})", flush=True)
    winner = max(rows, key=lambda n: rows[n]["validation"])
    bare = FFConfig(mode="analog", dataset="digits").validate()  # the family's defaults as shipped
    shipped = FFConfig(mode="analog", dataset="digits", epochs=rows[winner]["chosen_epochs"], **CANDIDATES[winner]).validate()
    if shipped != bare:
        print(f"note: the shipped defaults are not the winner's ({winner}, {rows[winner]['chosen_epochs']} epochs); testing the shipped ones")
    test = test_once(bare, ds, seeds)
    acc = [r["test_accuracy"] for r in test]
    result = {
        "seeds": seeds, "validation_fraction": 0.2, "epoch_candidates": list(EPOCHS), "candidates": rows, "winner": winner,
        "shipped": {"analog_lr": bare.analog_lr, "epochs": bare.epochs, "batch_size": bare.batch_size, "head": bare.head},
        "command": "neuroff train --mode analog", "test": test,
        "test_mean": statistics.mean(acc), "test_sd": statistics.stdev(acc),
    }
    write_json(OUT, result)
    print(f"winner on validation: {winner} ({rows[winner]['chosen_epochs']} epochs); shipped defaults {result['shipped']}")
    print(f"`neuroff train --mode analog`: test {' / '.join(f'{a:.4f}' for a in acc)}  mean {result['test_mean']:.4f} ± {result['test_sd']:.4f}")


if __name__ == "__main__":
    sys.exit(guarded(main))
