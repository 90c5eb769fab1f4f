"""Read-out screen of saved spiking FF runs: each run's own validation split (rebuilt from its
--validation and --seed) read with R presentations per candidate for every R in --eval-repeats and
the run's own R (bench_core_learner.repeats_readout: every R on the same nested spikes, R chosen on
validation, ties to the cheaper), then the test set read once with the chosen R (when that is the
run's own R, the test accuracy the run read after its last epoch). For nets trained outside
bench_core_learner.py, e.g. `neuroff train --resume` of a bench checkpoint to more epochs;
``--store-as RUN`` also stores each as that bench run's result, so that
summarize_core_learner.py summarises it with the seeds the bench trained straight through.

    .venv/bin/python bench/readout_screen.py runs/a runs/b --eval-repeats 1,5,10 --out bench/results/readout_rate1
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from bench_core_learner import RUNS, repeats_readout, result_entry, results_path, run_command, store_result

from neuroff import engine
from neuroff.cli import Parser, guarded
from neuroff.cli.options import positive_int_list
from neuroff.data import load_dataset
from neuroff.engine.options import FFConfig
from neuroff.errors import NeuroffError
from neuroff.io import read_json, write_json
from neuroff.studies.stats import format_summary, seed_summary
from neuroff.studies.stored_runs import result_key


def screen(trained: engine.Trained, run: Path, repeats: list[int]) -> tuple[dict, dict]:
    """The run's summary and its read-out (``repeats_readout``'s dict)."""
    c = trained.config
    prepared, val = engine.split_dataset(c, load_dataset(c.dataset, seed=c.seed))
    readout = repeats_readout(trained, val, prepared, repeats)
    last = trained.history[-1] if trained.history else {}
    test = readout.get("test_accuracy", last.get("test_accuracy", math.nan))  # the run's own read-out: its own test read
    if math.isnan(test):  # ... unless it never read the test set (--no-test)
        test = engine.evaluate(trained, prepared.x_test, prepared.y_test)
    return {"run": str(run), "seed": c.seed, "epochs": trained.epoch, "validation_by_repeats": readout["validation_by_repeats"],
            "repeats": readout["repeats"], "validation_accuracy": readout["validation_accuracy"], "test_accuracy": test,
            "layer_activity": last.get("layer_activity"), "config": c.to_dict()}, readout


def check_is_run(trained: engine.Trained, run: Path, name: str) -> None:
    """Refuse to store a net as bench run ``name`` unless its configuration is that run's and it
    trained all of the run's epochs (a checkpoint is written after every epoch)."""
    c = trained.config
    if trained.epoch != RUNS[name]["epochs"]:
        raise NeuroffError(f"{run} has trained {trained.epoch} epochs, bench run {name} trains {RUNS[name]['epochs']}; "
                           "store it once its training has finished")
    expected = FFConfig(dataset=c.dataset, validation=c.validation, seed=c.seed, **RUNS[name]).validate().to_dict()  # as train resolves it
    actual = c.to_dict()
    differ = [k for k in expected if expected[k] != actual.get(k)]
    if differ:
        k = differ[0]
        raise NeuroffError(f"{run} is not bench run {name!r}: its {k} is {actual.get(k)!r}, the run's {expected[k]!r}; "
                           "store it under the run it is (bench_core_learner.py --list)")


def main() -> None:
    parser = Parser(prog="readout_screen.py", description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories or model.pt files (one per seed)")
    parser.add_argument("--eval-repeats", type=positive_int_list("1,5,10", "presentations per candidate"), required=True,
                        metavar="R[,R...]", help="presentations per candidate to screen on validation")
    parser.add_argument("--out", required=True, help="path stem: writes STEM.json")
    parser.add_argument("--store-as", metavar="RUN", default=None,
                        help="also store each net as bench_core_learner run RUN (seed from its checkpoint) in "
                             "bench/results/core_learner_<dataset>.json; its configuration must be RUN's, and a stored "
                             "result is not overwritten")
    args = parser.parse_args()
    out = Path(args.out + ".json")
    if out.exists():
        parser.error(f"{out} exists; give another --out (it is not overwritten)")
    if args.store_as is not None and args.store_as not in RUNS:
        parser.error(f"--store-as: no bench run named {args.store_as!r} (bench_core_learner.py --list names them)")
    nets = [(run, engine.load_trained(run / "model.pt" if run.is_dir() else run)) for run in args.runs]
    keys: set[str] = set()
    for run, trained in nets:  # every check before the long read-outs
        if not trained.config.validation:
            raise NeuroffError(f"{run} held out no validation split (--validation 0); nothing to choose R on")
        if args.store_as is None:
            continue
        check_is_run(trained, run, args.store_as)
        path, key = results_path(trained.config.dataset), result_key(args.store_as, trained.config.seed)
        if key in keys or key in read_json(path, missing={}):
            raise NeuroffError(f"{path} already holds {key!r} (or two nets given are seed {trained.config.seed}); "
                               "it is not overwritten")
        keys.add(key)
    results = []
    for run, trained in nets:
        summary, readout = screen(trained, run, args.eval_repeats)
        results.append(summary)
        if args.store_as is not None:
            c = trained.config
            entry = result_entry(trained, run_command(args.store_as, c.dataset, c.validation, c.seed),
                                 sum(e["train_seconds"] for e in trained.history), {"eval_repeats_readout": readout})
            entry["trained_from"] = (f"{run}: trained by `neuroff train`, possibly in parts with --resume (which continues a "
                                     "run bit for bit); wall_seconds is the training time only; stored by "
                                     f"bench/readout_screen.py --store-as {args.store_as}")
            store_result(c.dataset, result_key(args.store_as, c.seed), entry)
    for r in results:
        print(f"{r['run']} (seed {r['seed']}, {r['epochs']} epochs): validation by R {r['validation_by_repeats']}; "
              f"R = {r['repeats']} chosen, test once {100 * r['test_accuracy']:.2f}")
    summary = {k: seed_summary([r[k] for r in results]) for k in ("validation_accuracy", "test_accuracy")}
    print(f"validation {format_summary(summary['validation_accuracy'])}, test {format_summary(summary['test_accuracy'])}")
    write_json(out, {"runs": results, "summary": summary})
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(guarded(main))
