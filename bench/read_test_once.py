"""Read the test set once for a bench run that was screened with --no-test and then chosen on
validation: each seed's saved net (bench_core_learner.py --save-dir) on the real test split, stored
as that seed's "test_accuracy" in bench/results/core_learner_<dataset>.json. Refuses a seed whose
test set was already read (nothing is overwritten) and checks every seed before reading any.

    .venv/bin/python bench/read_test_once.py analog-1x400-hard-16-sgd1-lr0.01 --save-dir /work/models
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from bench_core_learner import RUNS, checkpoint_path, results_path, store_result

from neuroff import engine
from neuroff.cli import Parser, guarded
from neuroff.errors import NeuroffError
from neuroff.io import read_json
from neuroff.studies.stored_runs import result_key


def main() -> None:
    parser = Parser(prog="read_test_once.py", description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a bench_core_learner run name (bench_core_learner.py --list)")
    parser.add_argument("--save-dir", type=Path, required=True, help="where bench_core_learner.py --save-dir saved its nets")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma list of seeds")
    args = parser.parse_args()
    if args.run not in RUNS:
        parser.error(f"no bench run named {args.run!r} (bench_core_learner.py --list names them)")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds {args.seeds!r} is not a comma list of integers, e.g. 0,1,2")
    results = results_path(args.dataset)
    if not results.exists():
        raise NeuroffError(f"{results} does not exist; run bench_core_learner.py first")
    stored = read_json(results)
    nets = {}
    for seed in seeds:  # every check before any read
        key, path = result_key(args.run, seed), checkpoint_path(args.save_dir, args.run, seed)
        if key not in stored:
            raise NeuroffError(f"{results.name} holds no {key!r}; run bench_core_learner.py first")
        if not math.isnan(stored[key]["test_accuracy"]):
            raise NeuroffError(f"{key!r} has read its test set already ({stored[key]['test_accuracy']:.4f}); it is read once")
        if not path.exists():
            raise NeuroffError(f"{path} does not exist; the run must have been trained with --save-dir {args.save_dir}")
        nets[key] = engine.load_trained(path)
        if nets[key].config.to_dict() != stored[key]["config"]:
            raise NeuroffError(f"the saved net of {key!r} is not the stored run (their configurations differ)")
    for key, trained in nets.items():
        train_part, _ = engine.split_dataset(trained.config)  # its test split is the real test set
        entry = stored[key]
        entry["test_accuracy"] = engine.evaluate(trained, train_part.x_test, train_part.y_test)
        entry["test_read_by"] = "bench/read_test_once.py (after the run was chosen on validation)"
        store_result(args.dataset, key, entry)
        print(f"{key}: test once {100 * entry['test_accuracy']:.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(guarded(main))
