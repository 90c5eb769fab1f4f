"""IntFF vs plain FF vs backprop with the seed paper's sizes, 784,(200,200,200),(50,50):
clean-test accuracy and training seconds per epoch, trained on the clean and on the corrupted
training set (Tang's noisy-data study), on mnist5k and fashion-mnist.

    .venv/bin/python bench/bench_intff.py                      # all four tables (~30 min on one core)
    .venv/bin/python bench/bench_intff.py --datasets mnist5k   # the two mnist5k tables (~5 min)

Each table is one ``neuroff robustness`` run (early stopping on a clean validation split); its
JSON and PNG go to ``--out``/<dataset>-<clean|noisy>/. The paper's MNIST numbers are printed
beside ours.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from neuroff.cli import Parser, guarded
from neuroff.errors import NeuroffError
from neuroff.studies.robustness import PAPER_BLOCKS, StudySettings, format_table, run_study

EPOCHS = {"mnist5k": 30, "fashion-mnist": 12}


def main() -> None:
    torch.set_num_threads(1)  # the machine is shared; one thread is also the fastest for these sizes
    parser = Parser(prog="bench_intff.py", description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="mnist5k,fashion-mnist")
    parser.add_argument("--tables", default="clean,noisy")
    parser.add_argument("--patience", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/bench_intff")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    summary = []
    for dataset in args.datasets.split(","):
        for table in args.tables.split(","):
            settings = StudySettings(
                dataset=dataset, blocks=PAPER_BLOCKS, corrupt=table == "noisy", epochs=EPOCHS.get(dataset, 20),
                patience=args.patience, batch_size=args.batch_size, seed=args.seed,
            )
            print(f"\n== {dataset}, {table} training set ==", flush=True)
            try:
                report = run_study(settings, Path(args.out) / f"{dataset}-{table}", progress=not args.quiet)
            except NeuroffError as err:
                print(f"skipped: {err}")
                continue
            print(format_table(report), flush=True)
            accs = {m: r["test_accuracy"] for m, r in report["methods"].items()}
            summary.append(f"{dataset:<14} {table:<6} " + "  ".join(f"{m} {100 * a:.2f}%" for m, a in accs.items()))
    print("\n== summary (clean test accuracy) ==")
    print("\n".join(summary))
    print("paper (MNIST): clean intff 98.00% ff 94.48% bp 97.27%; noisy intff 94.38% ff 90.78% bp 93.83%")


if __name__ == "__main__":
    sys.exit(guarded(main))
