"""Sweeps and seed repeats on Ray Tune: every trial is an ordinary neuroff training run in its own
run directory, selection reads the validation split only, and the test set is read once, for the
selected configuration, when the sweep ends.

A SPEC (JSON, or YAML by its suffix) holds

    base:    train options every trial shares (FFConfig keys)
    grid:    {option: [values]} crossed into configurations (search "grid", the default)
    space:   {option: {"uniform" | "loguniform": [lo, hi]} | {"choice": [values]}} for "random"/"optuna"
    search:  grid | random | optuna;  samples: configurations drawn by random/optuna
    seeds:   repeats per configuration (seeds 0..N-1, unless the grid varies "seed" itself)
    metric:  validation_accuracy (default) or train_accuracy;  mode: max | min
    validation: held-out training samples (default: 10 % of the training set)
    scheduler: none | asha (Ray Tune's ASHA stops trials whose metric trails, epoch by epoch)

A file without base/grid/space is a plain train config: the short form "this configuration, N seeds".
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import socket
import statistics
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from neuroff.engine.options import FFConfig
from neuroff.errors import NeuroffError
from neuroff.io import atomic_write, write_json

SEARCHES = ("grid", "random", "optuna")
METRICS = ("validation_accuracy", "train_accuracy")
SPEC_KEYS = {"base", "grid", "space", "search", "samples", "seeds", "metric", "mode", "validation", "scheduler"}
SCHEDULERS = ("none", "asha")
OPTION_NAMES = {f.name for f in fields(FFConfig)}


@dataclass
class SweepSpec:
    base: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    space: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    search: str = "grid"
    samples: int = 1
    seeds: int = 1
    metric: str = "validation_accuracy"
    mode: str = "max"
    validation: int | None = None
    scheduler: str = "none"

    @property
    def varied(self) -> list[str]:
        return [k for k in [*self.grid, *self.space] if k != "seed"]


def load_spec(path: str | Path, seeds: int | None = None) -> SweepSpec:
    """Read and check a SPEC file (see the module docstring); ``seeds`` overrides its repeats."""
    p = Path(path)
    if not p.is_file():
        raise NeuroffError(f"sweep spec {p} not found; write a JSON or YAML file (docs/sweeps.md)")
    text = p.read_text()
    try:
        if p.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as err:  # noqa: BLE001  (json and yaml raise different types; both mean "not a spec")
        raise NeuroffError(f"sweep spec {p} is not valid {'YAML' if p.suffix in ('.yaml', '.yml') else 'JSON'} ({str(err).splitlines()[0][:80]})") from None
    if not isinstance(data, dict):
        raise NeuroffError(f"sweep spec {p} must hold an object with base, grid or space; see docs/sweeps.md")
    if not {"base", "grid", "space"} & set(data):  # the short form: a plain train config ("mode" is a train option then)
        data = {"base": data}
    unknown = sorted(set(data) - SPEC_KEYS)
    if unknown:
        raise NeuroffError(f"unknown sweep key(s) {', '.join(unknown)}; use {', '.join(sorted(SPEC_KEYS))}")
    spec = SweepSpec(**data)
    if seeds is not None:
        spec.seeds = seeds
    check_spec(spec)
    return spec


def check_spec(spec: SweepSpec) -> None:
    for part, names in (("base", spec.base), ("grid", spec.grid), ("space", spec.space)):
        bad = sorted(set(names) - OPTION_NAMES)
        if bad:
            raise NeuroffError(f"unknown parameter(s) {', '.join(bad)} in {part}; use `neuroff train` option names, e.g. layers, analog_lr")
    for name, values in spec.grid.items():
        if not isinstance(values, list) or not values:
            raise NeuroffError(f"grid parameter {name} has an empty range; give a non-empty list of values")
    for name, dist in spec.space.items():
        if not isinstance(dist, dict) or len(dist) != 1 or next(iter(dist)) not in ("uniform", "loguniform", "choice"):
            raise NeuroffError(f"space parameter {name} must be {{\"uniform\"|\"loguniform\": [lo, hi]}} or {{\"choice\": [values]}}")
        kind, values = next(iter(dist.items()))
        if not values or (kind != "choice" and (len(values) != 2 or not values[0] < values[1])):
            raise NeuroffError(f"space parameter {name} has an empty range {values}; give [lo, hi] with lo < hi")
    if spec.search not in SEARCHES:
        raise NeuroffError(f"unknown search {spec.search!r}; use one of {', '.join(SEARCHES)}")
    if spec.search == "grid" and spec.space:
        raise NeuroffError("a grid search crosses `grid`; use search random or optuna for `space`")
    if spec.metric not in METRICS:
        raise NeuroffError(f"no trial reports the metric {spec.metric!r}; use one of {', '.join(METRICS)}")
    if spec.scheduler not in SCHEDULERS:
        raise NeuroffError(f"unknown scheduler {spec.scheduler!r}; use one of {', '.join(SCHEDULERS)}")
    if spec.mode not in ("max", "min"):
        raise NeuroffError(f"mode {spec.mode!r} must be max or min")
    if spec.seeds < 1 or spec.samples < 1:
        raise NeuroffError("seeds and samples must be >= 1")
    if spec.search == "optuna" and spec.seeds > 1:
        raise NeuroffError("optuna draws one seed per configuration; repeat the chosen one afterwards: "
                           "neuroff sweep --seeds N DIR/best.json --out DIR2")
    # every configuration must be a valid training config (checked now, not after hours of trials)
    for point in grid_points(spec) if spec.search == "grid" else [{}]:
        FFConfig.from_dict({**spec.base, **point, "seed": 0}).validate(set(spec.base) | set(point))


def grid_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every configuration of a grid search (without seeds)."""
    names = [n for n in spec.grid if n != "seed"]
    return [dict(zip(names, values)) for values in itertools.product(*(spec.grid[n] for n in names))]


def trial_name(params: dict[str, Any]) -> str:
    text = "_".join(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in sorted(params.items()))
    return re.sub(r"[^A-Za-z0-9_.=,-]+", "-", text)[:150] or "base"


def check_address(address: str, timeout: float = 5.0) -> None:
    """An existing Ray cluster at HOST:PORT must answer within ``timeout`` (Ray itself would hang)."""
    if address == "auto":
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            pass
    except (OSError, ValueError):
        raise NeuroffError(f"no Ray cluster answers at {address} within {timeout:.0f} s; start one with `ray start --head` or drop --address") from None


def _trainable(params: dict[str, Any], *, base: dict[str, Any], out: str, metric: str) -> None:
    """One trial: an ordinary neuroff training run in out/runs/<name>, reporting after every epoch."""
    from ray import tune

    from neuroff import engine
    from neuroff.errors import NeuroffError as Error
    from neuroff.threads import limited_threads

    config = FFConfig.from_dict({**base, **params})
    run_dir = Path(out) / "runs" / trial_name(params)

    def report(trained: Any) -> bool:
        record = trained.history[-1]
        tune.report({metric: record[metric], "epoch": record["epoch"], "train_seconds": record["train_seconds"],
                     "run_dir": str(run_dir)})
        return False

    with limited_threads(1):
        try:
            # the test set stays unread here: the sweep reads it once, for the configuration it selects
            engine.train(config, out_dir=run_dir, progress=False, on_epoch=report, given=set(base) | set(params), test_at_end=False)
        except Error as err:  # recorded as the trial's one-line error; the sweep goes on
            raise RuntimeError(f"neuroff: error: {err}") from None


def _param_space(spec: SweepSpec) -> dict[str, Any]:
    from ray import tune

    space: dict[str, Any] = {}
    if spec.search == "grid":
        for name, values in spec.grid.items():
            space[name] = tune.grid_search(values)
    else:
        for name, dist in spec.space.items():
            kind, values = next(iter(dist.items()))
            space[name] = {"uniform": lambda v: tune.uniform(*v), "loguniform": lambda v: tune.loguniform(*v),
                           "choice": tune.choice}[kind](values)  # fmt: skip
    if "seed" not in spec.grid:  # Optuna cannot take a grid: it runs seed 0 (check_spec refuses more)
        space["seed"] = 0 if spec.search == "optuna" else tune.grid_search(list(range(spec.seeds)))
    return space


def run_sweep(
    spec: SweepSpec, out: str | Path, address: str | None = None, cpus_per_trial: float = 1.0, resume: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Run (or resume) the sweep under ``out``; write results.csv/.md, best.json, sweep.json and
    sweep.png there; return the summary."""
    import ray
    from ray import tune

    out = Path(out).resolve()
    if address is not None:
        check_address(address)
    base = dict(spec.base)
    if spec.validation is not None:
        base["validation"] = spec.validation
    elif "validation" not in base:
        from neuroff import engine

        n = len(engine.prepare_dataset(FFConfig.from_dict({**base, "seed": 0}).validate(set(base))).x_train)
        base["validation"] = max(1, n // 10)  # 10 % of the training set
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network here: do not try to report usage
    try:
        ray.init(address=address, num_cpus=None if address else os.cpu_count(), include_dashboard=False,
                 logging_level="ERROR", log_to_driver=False, ignore_reinit_error=True)  # fmt: skip
    except (ConnectionError, RuntimeError) as err:
        raise NeuroffError(
            f"could not join the Ray cluster at {address} ({str(err).splitlines()[0][:100]}); a token-authenticated "
            "cluster needs the same RAY_AUTH_MODE and RAY_AUTH_TOKEN here as on its nodes (docs/sweeps.md)"
        ) from None
    try:
        trainable = tune.with_resources(tune.with_parameters(_trainable, base=base, out=str(out), metric=spec.metric),
                                        {"cpu": cpus_per_trial})  # fmt: skip
        storage = str(out / "ray")
        if resume:
            if not tune.Tuner.can_restore(f"{storage}/sweep"):
                raise NeuroffError(f"{out} holds no sweep to resume; run `neuroff sweep SPEC --out {out}` first")
            tuner = tune.Tuner.restore(f"{storage}/sweep", trainable, resume_errored=False)
        else:
            from ray.tune.schedulers import ASHAScheduler

            search_alg = None
            if spec.search == "optuna":
                from ray.tune.search.optuna import OptunaSearch

                search_alg = OptunaSearch(metric=spec.metric, mode=spec.mode, seed=0)
            tuner = tune.Tuner(
                trainable,
                param_space=_param_space(spec),
                tune_config=tune.TuneConfig(num_samples=1 if spec.search == "grid" else spec.samples, search_alg=search_alg,
                                            metric=spec.metric, mode=spec.mode,
                                            scheduler=ASHAScheduler(time_attr="epoch") if spec.scheduler == "asha" else None),
                run_config=tune.RunConfig(name="sweep", storage_path=storage, verbose=1 if progress else 0,
                                          failure_config=tune.FailureConfig(max_failures=0)),
            )  # fmt: skip
        grid = tuner.fit()
    finally:
        ray.shutdown()
    trials = []
    for result in grid:
        if not result.config:  # a trial interrupted before Ray recorded its parameters: nothing to report
            continue
        params = dict(result.config)
        history = result.metrics_dataframe
        row = {"params": params, "status": "error" if result.error else "ok",
               "error": str(result.error).splitlines()[-1][:300] if result.error else None,
               "run_dir": str(out / "runs" / trial_name(params))}  # fmt: skip
        if history is not None and spec.metric in history:
            row["curve"] = [float(v) for v in history[spec.metric]]
            row["metric"] = row["curve"][-1]
            row["seconds_per_epoch"] = float(history["train_seconds"].mean())
        trials.append(row)
    return summarise(spec, base, trials, out)


def bootstrap_ci(values: list[float]) -> tuple[float, float] | None:
    """95 % confidence interval of the mean (scipy's bootstrap, BCa); None below two values."""
    if len(values) < 2 or len(set(values)) < 2:
        return (values[0], values[0]) if values and len(values) >= 2 else None
    from scipy.stats import bootstrap

    res = bootstrap((values,), statistics.mean, confidence_level=0.95, n_resamples=2000, random_state=0, method="percentile")
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def summarise(spec: SweepSpec, base: dict[str, Any], trials: list[dict[str, Any]], out: Path) -> dict[str, Any]:
    """Group the trials by configuration (all but the seed), rank by the metric's mean, test the best once."""
    groups: dict[str, dict[str, Any]] = {}
    for t in trials:
        params = {k: v for k, v in t["params"].items() if k != "seed"}
        key = json.dumps(params, sort_keys=True)
        g = groups.setdefault(key, {"params": params, "trials": []})
        g["trials"].append(t)
    rows = []
    for g in groups.values():
        ok = [t for t in g["trials"] if t["status"] == "ok" and "metric" in t]
        values = [t["metric"] for t in ok]
        rows.append({
            "params": g["params"], "n": len(values), "failed": len(g["trials"]) - len(ok),
            "mean": statistics.mean(values) if values else math.nan,
            "sd": statistics.stdev(values) if len(values) > 1 else 0.0 if values else math.nan,
            "ci95": bootstrap_ci(values),
            "seconds_per_epoch": statistics.mean(t["seconds_per_epoch"] for t in ok) if ok else math.nan,
            "run_dirs": [t["run_dir"] for t in g["trials"]],
            "errors": sorted({t["error"] for t in g["trials"] if t["error"]}),
        })  # fmt: skip
    scored = [r for r in rows if r["n"]]
    if not scored:
        raise NeuroffError(f"every trial failed ({rows[0]['errors'][0] if rows and rows[0]['errors'] else 'no result'}); see {out}")
    sign = 1 if spec.mode == "max" else -1
    rows.sort(key=lambda r: -sign * r["mean"] if r["n"] else math.inf)
    best = rows[0]
    best_trial = max((t for t in trials if {k: v for k, v in t["params"].items() if k != "seed"} == best["params"]
                      and t["status"] == "ok"), key=lambda t: sign * t["metric"])  # fmt: skip
    best_config = {**base, **best_trial["params"]}
    write_json(out / "best.json", best_config)
    summary = {"metric": spec.metric, "mode": spec.mode, "varied": spec.varied, "rows": rows, "trials": trials,
               "best": {"params": best["params"], "config_file": str(out / "best.json"), "trial": best_trial["run_dir"],
                        "test_accuracy": read_test_once(best_trial["run_dir"])}}  # fmt: skip
    write_json(out / "sweep.json", summary)
    write_tables(summary, out)
    plot_sweep(summary, out / "sweep.png")
    return summary


def read_test_once(run_dir: str) -> float:
    """The selected trial's test accuracy: its model, trained on the kept samples, on the test set."""
    from neuroff import engine

    trained = engine.load_trained(Path(run_dir) / "model.pt")
    train_part, _ = engine.split_dataset(trained.config)
    return float(engine.test_accuracy(trained, train_part))




def _fmt(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "(base)"


def write_tables(summary: dict[str, Any], out: Path) -> None:
    header = ["configuration", "n", "mean", "sd", "ci95_low", "ci95_high", "seconds_per_epoch", "failed", "run_dirs"]
    lines = [",".join(header)]
    md = [f"Sweep on {summary['metric']} ({summary['mode']}); the test set is read once, for the best configuration: "
          f"**{summary['best']['test_accuracy']:.4f}** ({_fmt(summary['best']['params'])}).", "",
          "| configuration | n | mean ± sd | 95 % CI | s/epoch | failed |", "|---|---|---|---|---|---|"]  # fmt: skip
    for r in summary["rows"]:
        ci = r["ci95"] or (math.nan, math.nan)
        lines.append(",".join(json.dumps(v) if not isinstance(v, (int, float)) else f"{v}" for v in
                              [_fmt(r["params"]), r["n"], r["mean"], r["sd"], ci[0], ci[1], r["seconds_per_epoch"], r["failed"],
                               " ".join(r["run_dirs"])]))  # fmt: skip
        md.append(f"| {_fmt(r['params'])} | {r['n']} | {r['mean']:.4f} ± {r['sd']:.4f} | [{ci[0]:.4f}, {ci[1]:.4f}] | "
                  f"{r['seconds_per_epoch']:.2f} | {r['failed']} |")  # fmt: skip
    atomic_write(out / "results.csv", lambda f: f.write(("\n".join(lines) + "\n").encode()))
    atomic_write(out / "results.md", lambda f: f.write(("\n".join(md) + "\n").encode()))


def plot_sweep(summary: dict[str, Any], path: Path) -> None:
    """The metric against each varied parameter (one dot per seed, the mean as a line) and every trial's learning curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    varied = summary["varied"] or ["(one configuration)"]
    fig, axes = plt.subplots(1, len(varied) + 1, figsize=(4.2 * (len(varied) + 1), 3.6), squeeze=False)
    ok = [t for t in summary["trials"] if "metric" in t]
    for ax, name in zip(axes[0], varied):
        xs = [str(t["params"].get(name, "")) for t in ok]
        ax.scatter(xs, [t["metric"] for t in ok], s=14, alpha=0.6, label="one seed")
        labels = sorted(set(xs), key=xs.index)
        means = [statistics.mean(t["metric"] for t, x in zip(ok, xs) if x == lab) for lab in labels]
        ax.plot(labels, means, "k-", lw=1, label="mean over seeds and other parameters")
        ax.set(title=f"{summary['metric']} vs {name}", xlabel=name, ylabel=summary["metric"])
        ax.legend(fontsize=7)
    curve_ax = axes[0][-1]
    for t in ok:
        curve_ax.plot(range(1, len(t["curve"]) + 1), t["curve"], lw=0.8, alpha=0.7, label=_fmt(t["params"])[:40])
    curve_ax.set(title="learning curves", xlabel="epoch", ylabel=summary["metric"])
    if len(ok) <= 8:
        curve_ax.legend(fontsize=6)
    fig.suptitle(f"neuroff sweep: best {_fmt(summary['best']['params'])}, test {summary['best']['test_accuracy']:.4f} (read once)",
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


__all__ = ["SweepSpec", "load_spec", "run_sweep"]
