"""Controls of the core learner's runs: each stored run's architecture untrained (its goodness
read-out, and a linear read-out of its random latents) and trained by backprop (the same hidden
widths with a softmax classifier, epoch chosen on the validation split), on the run's own
validation split and seed; the test set is read once per control. Stores
bench/results/core_controls_<dataset>.json (after every control, partial results survive); with
--summarize, trains nothing and writes STEM.json / STEM.png: per run, FF against its controls over
the seeds that have them (mean ± sd, 95 % t interval; paired differences on the test set).

    .venv/bin/python bench/bench_core_controls.py --runs analog-1x2000-hard-20-batch32-eps1 --seed 0
    .venv/bin/python bench/bench_core_controls.py --summarize --runs analog-1x2000-hard-20-batch32-eps1 --out bench/results/core_controls
"""

from __future__ import annotations

import sys
import textwrap
from dataclasses import asdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench_core_learner import results_path  # noqa: E402

from neuroff.cli import Parser, guarded  # noqa: E402
from neuroff.data import load_dataset  # noqa: E402
from neuroff.engine.options import FFConfig  # noqa: E402
from neuroff.errors import NeuroffError  # noqa: E402
from neuroff.io import atomic_write, read_json, write_json  # noqa: E402
from neuroff.studies.controls import BackpropSettings, backprop_control, untrained_control  # noqa: E402
from neuroff.studies.stats import format_summary  # noqa: E402
from neuroff.studies.stored_runs import backprop_key, controls_summary, result_key  # noqa: E402

CONTROLS = ("untrained", "backprop")
TARGETS = {"spiking": 0.89, "analog": 0.90}  # issue 16's Fashion-MNIST targets, drawn on the figure


def controls_path(dataset: str) -> Path:
    return Path(__file__).parent / "results" / f"core_controls_{dataset}.json"


def store(dataset: str, kind: str, key: str, entry: dict) -> None:
    path = controls_path(dataset)
    stored = read_json(path, missing={})  # read again just before writing: another run may have stored meanwhile
    stored.setdefault(kind, {})[key] = entry
    write_json(path, stored)


def stored_config(stored: dict, dataset: str, name: str, seed: int) -> FFConfig:
    key = result_key(name, seed)
    if key not in stored:
        raise NeuroffError(f"no stored run {key!r} in {results_path(dataset).name}; train it first with bench_core_learner.py --seed {seed} --runs {name}")
    config = FFConfig.from_stored(stored[key]["config"])
    if not config.validation:
        raise NeuroffError(f"run {key!r} held out no validation split; its controls are chosen on one, pick a run trained with --validation N")
    return config


def run_controls(args, settings: BackpropSettings) -> None:
    stored = read_json(results_path(args.dataset), missing={})
    configs = {name: stored_config(stored, args.dataset, name, args.seed) for name in args.runs.split(",")}  # every name checked before any work
    read_json(controls_path(args.dataset), missing={})  # a controls file that cannot take the numbers fails now
    ds = load_dataset(args.dataset, seed=args.seed)
    done_backprop: set[str] = set()
    for name, config in configs.items():
        key = result_key(name, args.seed)
        if "untrained" in args.controls:
            out = untrained_control(config, ds, read_test=not args.no_test)
            store(args.dataset, "untrained", key, {**out, "run": key})
            print(f"{key}: untrained goodness {out['goodness']}, linear read-out {out['linear_readout']}, {out['seconds']:.0f} s", flush=True)
        bkey = backprop_key(config, settings)
        if "backprop" in args.controls and bkey not in done_backprop:
            out = backprop_control(config, ds, settings, read_test=not args.no_test)
            store(args.dataset, "backprop", bkey, {**out, "layers": list(config.layers), "validation_samples": config.validation,
                                                  "n_train": config.n_train})
            done_backprop.add(bkey)
            print(f"{bkey}: validation {' '.join(f'{v:.4f}' for v in out['validation_accuracy'])}, best epoch {out['best_epoch']}, "
                  f"test {out.get('test', float('nan')):.4f}, {out['seconds']:.0f} s", flush=True)


def bars(ax, summary: dict[str, dict], labels: list[str], colours: dict[str, str], fmt: str, names: bool) -> None:
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        xs = [j + (i - (len(labels) - 1) / 2) * width for j in range(len(summary))]
        means = [100 * s["test"][label]["mean"] for s in summary.values()]
        sds = [100 * s["test"][label]["sd"] for s in summary.values()]
        drawn = ax.bar(xs, means, width, yerr=sds, capsize=3, label=label, color=colours[label])
        ax.bar_label(drawn, labels=[format(m, fmt) for m in means], fontsize=7, padding=2)
    ax.set_xticks(range(len(summary)), [(f"{n}\n" if names else "") + f"({'x'.join(map(str, s['layers']))}, {s['mode']}, "
                                        f"seeds {','.join(map(str, s['seeds']))})" for n, s in summary.items()], fontsize=7)
    ax.set(xlabel="run (hidden layers, substrate, seeds)", ylabel="test accuracy, %")
    ax.grid(axis="y", alpha=0.3)


def plot(summary: dict[str, dict], path: Path, dataset: str, settings: dict) -> None:
    labels = list(next(iter(summary.values()))["test"])
    colours = dict(zip(labels, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    fig, (ax_all, ax_zoom) = plt.subplots(1, 2, figsize=(max(12.0, 4.6 * len(summary)), 5.6), gridspec_kw={"width_ratios": [1, 1.3]})
    bars(ax_all, summary, labels, colours, ".1f", names=False)  # the run names: under the zoomed panel
    ax_all.set(title="every control (0-100 %)", ylim=(0, 105))
    trained = labels[1:]  # the untrained goodness read-out sits at chance, off the zoomed scale
    bars(ax_zoom, summary, trained, colours, ".2f", names=True)
    low = min(100 * s["test"][label]["mean"] for s in summary.values() for label in trained)
    ax_zoom.set(title="zoomed: the read-outs that learn", ylim=(low - 2, 91.5))
    for mode, target in TARGETS.items():
        if any(s["mode"] == mode for s in summary.values()):
            ax_zoom.axhline(100 * target, ls="--", lw=0.9, color="grey" if mode == "analog" else "black")
            ax_zoom.text(-0.45, 100 * target + 0.08, f"{mode} target {100 * target:.0f} %", fontsize=7)
    fig.suptitle(f"{dataset}: FF against its controls on the same architecture (test set, mean ± sd over seeds)")
    handles, names = ax_all.get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(labels), fontsize=8, bbox_to_anchor=(0.5, 0.085))
    caption = ("Caption: bench/bench_core_controls.py. Each control on its run's validation split and seed, the test set read "
               "once: the untrained net training starts from, read by goodness argmax and by a logistic read-out of its "
               "latents (neutral label) fitted on the kept training samples; backprop on the same hidden widths with a "
               f"softmax classifier (Adam, lr {settings['lr']:g}, batch {settings['batch_size']}, the epoch of best "
               f"validation accuracy, at most {settings['epochs']}, patience {settings['patience']}); FF as stored by "
               "bench_core_learner.py with its read-out chosen on validation.")
    fig.text(0.01, 0.01, textwrap.fill(caption, 190), fontsize=7)
    fig.tight_layout(rect=(0, 0.14, 1, 0.96))
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120))
    plt.close(fig)


def summarize(args, settings: BackpropSettings) -> None:
    if not args.out:
        raise NeuroffError("--summarize needs --out STEM (writes STEM.json and STEM.png)")
    stored, controls = read_json(results_path(args.dataset)), read_json(controls_path(args.dataset))
    summary = {name: controls_summary(stored, controls, name, settings) for name in args.runs.split(",")}
    for name, s in summary.items():
        print(f"{name} ({'x'.join(map(str, s['layers']))}, {s['mode']}, seeds {s['seeds']}), test:")
        for label, v in s["test"].items():
            print(f"  {label:32s} {format_summary(v)}")
        print(f"  FF − backprop (paired)           {format_summary(s['ff_minus_backprop_test'])}")
        print(f"  FF − untrained linear (paired)   {format_summary(s['ff_minus_untrained_linear_test'])}")
        print(f"  backprop best epochs {s['backprop_best_epochs']}")
    write_json(Path(args.out + ".json"), {"sources": [results_path(args.dataset).name, controls_path(args.dataset).name],
                                          "backprop_settings": asdict(settings), "runs": summary})
    plot(summary, Path(args.out + ".png"), args.dataset, asdict(settings))
    print(f"wrote {args.out}.json and {args.out}.png")


def main() -> None:
    defaults = BackpropSettings()
    parser = Parser(prog="bench_core_controls.py", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--runs", required=True, help="comma list of runs stored by bench_core_learner.py")
    parser.add_argument("--seed", type=int, default=0, help="the stored run's seed (its validation split and initialisation)")
    parser.add_argument("--controls", default=",".join(CONTROLS), help=f"comma list of {', '.join(CONTROLS)}")
    parser.add_argument("--no-test", action="store_true", help="validation only: the test set is not read")
    parser.add_argument("--bp-epochs", type=int, default=defaults.epochs, help="backprop: most epochs")
    parser.add_argument("--bp-batch", type=int, default=defaults.batch_size, help="backprop: mini-batch size")
    parser.add_argument("--bp-lr", type=float, default=defaults.lr, help="backprop: Adam's learning rate")
    parser.add_argument("--bp-patience", type=int, default=defaults.patience,
                        help="backprop: stop this many epochs after the best validation epoch")
    parser.add_argument("--summarize", action="store_true",
                        help="train nothing: summarise the stored controls of --runs (backprop: the entries trained with the --bp-* given)")
    parser.add_argument("--out", default=None, help="with --summarize: path stem of STEM.json and STEM.png")
    args = parser.parse_args()
    args.controls = args.controls.split(",")
    unknown = [c for c in args.controls if c not in CONTROLS]
    if unknown:
        parser.error(f"unknown control {unknown[0]!r}; use {', '.join(CONTROLS)}")
    if min(args.bp_epochs, args.bp_batch, args.bp_patience) < 1 or args.bp_lr <= 0:
        parser.error("--bp-epochs, --bp-batch and --bp-patience must be >= 1 and --bp-lr > 0")
    settings = BackpropSettings(args.bp_epochs, args.bp_batch, args.bp_lr, args.bp_patience)
    if args.summarize:
        summarize(args, settings)  # the backprop entries of these settings
    else:
        run_controls(args, settings)


if __name__ == "__main__":
    sys.exit(guarded(main))
