"""Self-Contrastive FF: linear-probe test accuracy per layer and of the layers combined, seconds
per training epoch, and the same probe on the same network at its random initialisation (the
paper's control), for the issue's runs:

    .venv/bin/python bench/bench_scff.py                       # every run below (about an hour on one core)
    .venv/bin/python bench/bench_scff.py --runs dense --dataset mnist5k
    .venv/bin/python bench/bench_scff.py --runs conv --n-train 10000   # a quicker, smaller run

runs: dense (2x2000), conv (3 conv layers), birnn (a bidirectional RNN over the 28 rows of an
image: sequential Fashion-MNIST), spiking (dense LIF net, neo-Hebbian rule); each on
fashion-mnist unless --dataset says otherwise (the default set also runs dense on mnist5k).
Every run is ``neuroff train --rule scff --embedding none`` through the engine, probed by
``neuroff.studies.probes.probe_trained_and_random`` (``neuroff.engine.readout.linear_probe`` with the
run's probe settings on every layer and on all layers concatenated, trained on the training split
and tested on the test split). Writes bench/results/scff/<run>-<dataset>.json and a bar chart
scff.png of every run measured so far.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from neuroff.cli import Parser, guarded
from neuroff import engine  # noqa: E402
from neuroff.engine.options import FFConfig  # noqa: E402
from neuroff.errors import NeuroffError  # noqa: E402
from neuroff.io import atomic_write, write_json  # noqa: E402
from neuroff.studies.probes import ProbeAccuracies, probe_trained_and_random  # noqa: E402
from neuroff.threads import limited_threads  # noqa: E402

PROBE = dict(probe="adam", probe_epochs=20, probe_dropout=0.2)
# the settings of the single-seed runs once tabled in docs/scff.md (removed; see bench_reproduce.py for the seed tables)
RUNS = {
    # the authors' MNIST recipe for the first layer (their config.json): 20 epochs, batch 100, thresholds 4/6,
    # penalty 1e-4, learning rate × 0.94 per epoch (their ×0.9 per 1000 batches)
    "dense": dict(mode="analog", layers=[2000, 2000], scff_epochs_per_layer=20, analog_lr=0.003, batch_size=100,
                  scff_threshold_pos=4.0, scff_threshold_neg=6.0, scff_lambda=1e-4, lr_decay=0.94),
    "conv": dict(mode="analog", blocks="1x28x28,c64k3p2,c128k3p2,c256k3p2", scff_epochs_per_layer=1, analog_lr=0.003,
                 batch_size=64, scff_algorithm="2", scff_probe_grid=2),
    "birnn": dict(mode="analog", scff_birnn=True, layers=[500], scff_epochs_per_layer=2, analog_lr=0.003, batch_size=64),
    "spiking": dict(mode="spiking", layers=[500], scff_epochs_per_layer=1, batch_size=32, lr=1.0, init_scale=3.0,
                    scff_threshold_pos=0.05, scff_threshold_neg=0.1, n_train=10000),
}  # fmt: skip
DEFAULT_PLAN = [("dense", "fashion-mnist"), ("dense", "mnist5k"), ("conv", "fashion-mnist"), ("birnn", "fashion-mnist"),
                ("spiking", "fashion-mnist")]  # fmt: skip
OUT = Path("bench/results/scff")


def probe_table(probes: ProbeAccuracies) -> dict[str, float]:
    """The probes as the result files store them: {"layer 0": ..., "combined": ...}."""
    table = {f"layer {i}": a for i, a in enumerate(probes.per_layer)}
    if probes.combined is not None:
        table["combined"] = probes.combined
    return table


def run_one(name: str, dataset: str, args: argparse.Namespace) -> dict:
    settings = {**PROBE, **RUNS[name]}
    if args.n_train is not None:
        settings["n_train"] = args.n_train
    if args.epochs_per_layer:
        settings["scff_epochs_per_layer"] = args.epochs_per_layer
    for item in args.set:  # e.g. lr=0.5, layers=[100], scff_algorithm="2"
        key, _, value = item.partition("=")
        if key not in {f.name for f in fields(FFConfig)}:
            raise NeuroffError(f"--set {item!r}: {key!r} is not a config option; see `neuroff train --help` (use underscores)")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    n_layers = len(settings["blocks"].split(",")) - 1 if "blocks" in settings else len(settings["layers"])
    if settings.get("scff_birnn"):
        n_layers = 1
    epochs = settings["scff_epochs_per_layer"] * n_layers
    cfg = FFConfig(rule="scff", embedding="none", dataset=dataset, epochs=epochs, seed=args.seed, n_test=args.n_test,
                   eval_every=epochs, **settings).validate()  # fmt: skip
    ds = engine.prepare_dataset(cfg)
    print(f"\n== {name} SCFF on {ds.name} ({len(ds.x_train)} train / {len(ds.x_test)} test), "
          f"{cfg.blocks or cfg.layers}, {cfg.scff_epochs_per_layer} epochs per layer ==", flush=True)  # fmt: skip
    probed = probe_trained_and_random(cfg, ds, combined=True, progress=not args.quiet)
    trained, wall = probed.trained, probed.train_seconds
    scff, random = probe_table(probed.probe_trained), probe_table(probed.probe_random)
    sec_per_epoch = sum(h["train_seconds"] for h in trained.history) / len(trained.history)
    print(f"{'features':<10} {'SCFF':>8} {'random':>8} {'gain':>7}")
    for key in scff:
        print(f"{key:<10} {100 * scff[key]:7.2f}% {100 * random[key]:7.2f}% {100 * (scff[key] - random[key]):+6.2f}")
    print(f"training: {sec_per_epoch:.1f} s per epoch (without the probe); whole run {wall:.0f} s", flush=True)
    result = {"run": name, "dataset": ds.name, "n_train": len(ds.x_train), "n_test": len(ds.x_test), "config": cfg.to_dict(),
              "scff": scff, "random": random, "seconds_per_epoch": sec_per_epoch, "history": trained.history}  # fmt: skip
    write_json(OUT / f"{name}{args.tag}-{dataset}.json", result)
    return result


def plot(out: Path) -> Path:
    """Horizontal bars, SCFF vs random control, of the best feature set of every saved run (one
    row per result file: run, --tag variant, data set), with the gain printed next to each."""
    paths = sorted(out.glob("*.json"))
    rows = [json.loads(p.read_text()) for p in paths]
    fig, ax = plt.subplots(figsize=(8, 0.32 * max(len(rows), 2) + 1.2))
    for i, r in enumerate(rows):
        key = "combined" if "combined" in r["scff"] else "layer 0"
        rand, scff = 100 * r["random"][key], 100 * r["scff"][key]
        ax.barh(i + 0.2, rand, 0.4, color="0.7", label="random control" if i == 0 else None)
        ax.barh(i - 0.2, scff, 0.4, color="C0", label="SCFF" if i == 0 else None)
        ax.text(max(scff, rand) + 0.2, i, f"{scff:.1f} ({scff - rand:+.1f})", va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), [p.stem for p in paths], fontsize=7)
    ax.invert_yaxis()
    low = min([100 * r["random"][k] for r in rows for k in r["random"]] + [100.0])
    ax.set_xlim(max(low - 5, 0), 103)
    ax.set_xlabel("linear-probe test accuracy (%), best feature set (gain over random)")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path = out / "scff.png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)
    return path


def main() -> None:
    parser = Parser(prog="bench_scff.py", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=None, help=f"comma list of {', '.join(RUNS)}; default: the issue's set")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--n-train", type=int, default=None, help="training subset (default: the run's own, else all)")
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--epochs-per-layer", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                        help="override a config field of the run (JSON value), e.g. --set lr=0.5 --set layers=[100]")
    parser.add_argument("--tag", default="", help="suffix of the result file name, for variants made with --set")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    if args.runs is None:
        plan = DEFAULT_PLAN
    else:
        unknown = [r for r in args.runs.split(",") if r not in RUNS]
        if unknown:
            raise NeuroffError(f"unknown run(s) {', '.join(unknown)}; use some of {', '.join(RUNS)}")
        plan = [(r, args.dataset) for r in args.runs.split(",")]
    with limited_threads(args.threads):
        for name, dataset in plan:
            run_one(name, dataset, args)
    print(f"\nwritten {OUT}/ and {plot(OUT)}; paper (MNIST, dense 2x2000, full data) 98.7% for reference")


if __name__ == "__main__":
    sys.exit(guarded(main))
