"""Read-out screen of saved spiking FF runs: each run's own validation split (rebuilt from its
--validation and --seed) read with R presentations per candidate for every R in --eval-repeats
(engine.accuracy_by_eval_repeats: every R on the same nested spikes), R chosen on validation
(ties: the cheaper), then the test set read once with the chosen R. For nets trained outside
bench_core_learner.py, e.g. `neuroff train --resume` of a bench checkpoint to more epochs.

    .venv/bin/python bench/readout_screen.py runs/a runs/b --eval-repeats 1,5,10 --out bench/results/readout_rate1
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from neuroff import engine
from neuroff.cli.options import positive_int_list
from neuroff.data import load_dataset
from neuroff.errors import NeuroffError
from neuroff.io import write_json
from neuroff.studies.stats import format_summary, seed_summary


def screen(run: Path, repeats: list[int]) -> dict:
    trained = engine.load_trained(run / "model.pt" if run.is_dir() else run)
    c = trained.config
    if not c.validation:
        raise NeuroffError(f"{run} held out no validation split (--validation 0); nothing to choose R on")
    ds = load_dataset(c.dataset, seed=c.seed)
    prepared, val = engine.split_dataset(c, ds)
    by_repeats = engine.accuracy_by_eval_repeats(trained, val.x_test, val.y_test, sorted(set(repeats)))
    chosen = engine.choose_eval_repeats(by_repeats)
    test = engine.evaluate(replace(trained, config=replace(c, eval_repeats=chosen)), prepared.x_test, prepared.y_test)
    last = trained.history[-1] if trained.history else {}
    return {"run": str(run), "seed": c.seed, "epochs": trained.epoch, "validation_by_repeats": {str(r): v for r, v in by_repeats.items()},
            "repeats": chosen, "validation_accuracy": by_repeats[chosen], "test_accuracy": test,
            "layer_activity": last.get("layer_activity"), "config": c.to_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories or model.pt files (one per seed)")
    parser.add_argument("--eval-repeats", type=positive_int_list("1,5,10", "presentations per candidate"), required=True,
                        metavar="R[,R...]", help="presentations per candidate to screen on validation")
    parser.add_argument("--out", required=True, help="path stem: writes STEM.json")
    args = parser.parse_args()
    out = Path(args.out + ".json")
    if out.exists():
        parser.error(f"{out} exists; give another --out (it is not overwritten)")
    try:
        results = [screen(run, args.eval_repeats) for run in args.runs]
    except NeuroffError as e:
        raise SystemExit(f"neuroff: error: {e}") from None
    for r in results:
        print(f"{r['run']} (seed {r['seed']}, {r['epochs']} epochs): validation by R {r['validation_by_repeats']}; "
              f"R = {r['repeats']} chosen, test once {100 * r['test_accuracy']:.2f}")
    summary = {k: seed_summary([r[k] for r in results]) for k in ("validation_accuracy", "test_accuracy")}
    print(f"validation {format_summary(summary['validation_accuracy'])}, test {format_summary(summary['test_accuracy'])}")
    write_json(out, {"runs": results, "summary": summary})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
