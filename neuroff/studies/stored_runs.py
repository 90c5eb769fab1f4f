"""Reading the core-learner bench's stored runs (``bench/results/core_learner_<dataset>.json``, as
``bench/bench_core_learner.py`` writes it): every stored seed of a run (seed 0 under the bare name,
seed S as "NAME (seed S)"), its final read-outs (the read-out chosen on validation, where one was),
seed summaries, paired gaps and screens. The bench scripts print and plot what these compute.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import asdict
from typing import TYPE_CHECKING

from neuroff.engine.options import FFConfig
from neuroff.errors import NeuroffError
from neuroff.studies.stats import paired_differences, seed_summary, target_met

if TYPE_CHECKING:  # typing only
    from neuroff.studies.controls import BackpropSettings


def result_key(name: str, seed: int) -> str:
    """The key run ``name`` at ``seed`` is stored under (seed 0 keeps the names of earlier stops)."""
    return name if seed == 0 else f"{name} (seed {seed})"


def seeds_of(stored: dict, name: str) -> dict[int, dict]:
    """Every stored seed of run ``name``: seed 0 is stored under the bare name."""
    found = {0: stored[name]} if name in stored else {}
    for key, entry in stored.items():
        m = re.fullmatch(re.escape(name) + r" \(seed (\d+)\)", key)
        if m:
            found[int(m.group(1))] = entry
    if not found:
        raise NeuroffError(f"no stored run named {name!r}; see bench_core_learner.py --list")
    return dict(sorted(found.items()))


def summarize(stored: dict, name: str) -> dict:
    runs = seeds_of(stored, name)
    curves = [r["validation_accuracy"] for r in runs.values() if r["validation_accuracy"]]  # none: a --validation 0 run
    tests = [r["test_accuracy"] for r in runs.values() if r.get("test_accuracy") == r.get("test_accuracy")]  # NaN: not read
    epochs = min((len(c) for c in curves), default=0)
    out = {
        "seeds": list(runs),
        "command": runs[min(runs)]["command"],
        "held_out": runs[min(runs)]["config"]["validation"],
        "n_train": runs[min(runs)]["config"]["n_train"],  # None: the whole training set (screens use the first 30,000)
        "stored_by_readout_screen": [s for s, r in runs.items() if "trained_from" in r],  # e.g. continued with --resume
        "validation": seed_summary([c[-1] for c in curves]) if curves else None,
        "test": seed_summary(tests) if tests else None,
        "validation_curve_mean": [statistics.fmean(c[e] for c in curves) for e in range(epochs)],
        "validation_curve_sd": [statistics.stdev(c[e] for c in curves) if len(curves) > 1 else 0.0 for e in range(epochs)],
    }
    repeats = [r["eval_repeats_readout"] for r in runs.values() if "eval_repeats_readout" in r]
    if repeats and len(repeats) == len(runs):  # a screen of some seeds only is not summarised as the run's
        chosen = [r["repeats"] for r in repeats]  # per seed, on that seed's validation split
        out["eval_repeats_readout"] = {
            "repeats": chosen[0] if len(set(chosen)) == 1 else chosen,
            "validation": seed_summary([r["validation_accuracy"] for r in repeats]),
            **({"test": seed_summary([r["test_accuracy"] for r in repeats])} if all("test_accuracy" in r for r in repeats) else {}),
        }
        screened = [r["validation_by_repeats"] for r in repeats if "validation_by_repeats" in r]
        if len(screened) == len(repeats):  # every seed read the same list of R on nested spikes
            out["eval_repeats_readout"]["validation_by_repeats"] = {
                k: seed_summary([v[k] for v in screened]) for k in screened[0] if all(k in v for v in screened)}
    return out


def pair_of(text: str) -> tuple[str, str]:
    first, sep, second = text.partition(":")
    if not (sep and first and second):
        raise NeuroffError(f"{text!r} is not two run names joined by ':', e.g. analog-1x400-hard-16:spiking-1x400-hard-homeo-16")
    return first, second


def final_test(entry: dict) -> float:
    """A seed's test accuracy with the read-out chosen on its validation split (the bench reads
    the test set with more presentations only when validation chose them)."""
    return entry.get("eval_repeats_readout", {}).get("test_accuracy", entry["test_accuracy"])


def gap(stored: dict, pair: str, ceiling: float = 0.01) -> dict:
    """Paired test gap REFERENCE − RUN per shared seed (``paired_differences``) and whether it meets
    the ceiling by the interval rule (``target_met(at_most=True)``)."""
    reference, run = pair_of(pair)
    gaps = paired_differences(*({seed: final_test(e) for seed, e in seeds_of(stored, name).items()} for name in (reference, run)))
    return {"reference": reference, "run": run, "gap": gaps, "ceiling": ceiling, "met": target_met(gaps, ceiling, at_most=True)}


def versus(stored: dict, pair: str) -> dict:
    """A screen's verdict: paired validation difference RUN − BASELINE per shared seed (the two runs
    of a seed share its split), on the last epoch with one presentation and, where both runs
    screened read-outs, with each run's read-out chosen on validation. The test set is not used."""
    baseline, run = pair_of(pair)
    a, b = (seeds_of(stored, name) for name in (run, baseline))
    out = {"baseline": baseline, "run": run,
           "last_epoch": paired_differences(*({s: e["validation_accuracy"][-1] for s, e in runs.items()} for runs in (a, b)))}
    chosen = [{s: e["eval_repeats_readout"]["validation_accuracy"] for s, e in runs.items() if "eval_repeats_readout" in e}
              for runs in (a, b)]
    if all(chosen) and set(chosen[0]) & set(chosen[1]):
        out["chosen_readout"] = paired_differences(*chosen)
    return out


def final_validation(entry: dict) -> float:
    """A seed's validation accuracy with the read-out chosen on it (as ``final_test`` reads the test set)."""
    return entry.get("eval_repeats_readout", {}).get("validation_accuracy", entry["validation_accuracy"][-1])


def backprop_key(config: FFConfig, settings: BackpropSettings) -> str:
    """Backprop depends only on the hidden widths, the training samples and split, the seed and its own
    settings: one entry per architecture and setting (the default setting keeps the bare name)."""
    default = asdict(type(settings)())
    changed = "".join(f"-{name}{value}" for name, value in asdict(settings).items() if value != default[name])
    subset = f"-train{config.n_train}" if config.n_train is not None else ""  # a screen on the first N training samples
    return result_key("backprop-" + "x".join(map(str, config.layers)) + f"-val{config.validation}" + subset + changed, config.seed)


def controls_summary(stored: dict, controls: dict, name: str, settings: BackpropSettings) -> dict:
    """Run ``name`` (FF: its validation and test, the read-out chosen on validation) against its
    controls as ``bench/bench_core_controls.py`` stores them (``controls``: {"untrained": {key: ...},
    "backprop": {backprop_key: ...}}), over the seeds that have all of them with the test set read;
    paired test differences FF − control."""
    runs = seeds_of(stored, name)
    untrained = {s: controls.get("untrained", {}).get(result_key(name, s)) for s in runs}
    config = FFConfig.from_stored(runs[min(runs)]["config"])
    backprop = {s: controls.get("backprop", {}).get(backprop_key(FFConfig.from_stored(e["config"]), settings)) for s, e in runs.items()}
    seeds = [s for s in runs if untrained[s] and backprop[s] and "test" in backprop[s] and "test" in untrained[s]["goodness"]]
    if not seeds:
        raise NeuroffError(f"no seed of {name!r} has both controls (backprop {asdict(settings)}) with the test set read; "
                           f"run bench_core_controls.py --runs {name} --seed S")
    ff_test = {s: final_test(runs[s]) for s in seeds}
    columns = {
        "untrained, goodness read-out": {s: untrained[s]["goodness"]["test"] for s in seeds},
        "untrained, linear read-out": {s: untrained[s]["linear_readout"]["test"] for s in seeds},
        "FF (this run)": ff_test,
        "backprop, same hidden layers": {s: backprop[s]["test"] for s in seeds},
    }
    return {
        "mode": config.mode, "layers": list(config.layers), "seeds": seeds,
        "test": {label: seed_summary([v[s] for s in seeds]) for label, v in columns.items()},
        "validation": {
            "untrained, linear read-out": seed_summary([untrained[s]["linear_readout"]["validation"] for s in seeds]),
            "FF (this run)": seed_summary([final_validation(runs[s]) for s in seeds]),
            "backprop, same hidden layers": seed_summary([backprop[s]["validation"] for s in seeds]),
        },
        "backprop_best_epochs": [backprop[s]["best_epoch"] for s in seeds],
        "ff_minus_backprop_test": paired_differences(ff_test, columns["backprop, same hidden layers"]),
        "ff_minus_untrained_linear_test": paired_differences(ff_test, columns["untrained, linear read-out"]),
    }
