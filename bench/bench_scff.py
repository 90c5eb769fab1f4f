"""Self-Contrastive FF: linear-probe test accuracy per layer and of all layers combined, seconds
per training epoch, and the same probe on the random-init network (the paper's control).

    .venv/bin/python bench/bench_scff.py                                  # digits, analog and spiking
    .venv/bin/python bench/bench_scff.py --dataset mnist5k --runs analog  # the analog dense net on mnist5k

Every run is ``neuroff train --rule scff --embedding none`` through the engine; the probe is
``neuroff.readout.linear_probe`` (logistic regression on standardised features) trained on the
training split, tested on the test split. Numbers and settings go to ``--out``/bench_scff.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from neuroff import engine
from neuroff.config import FFConfig
from neuroff.errors import NeuroffError
from neuroff.io import write_json
from neuroff.readout import linear_probe

# the settings measured in docs/scff.md
RUNS = {
    "analog": dict(mode="analog", layers=[200, 200], scff_epochs_per_layer=2, analog_lr=0.003, batch_size=64),
    "spiking": dict(mode="spiking", layers=[200], scff_epochs_per_layer=4, batch_size=32, lr=5.0, init_scale=3.0,
                    scff_threshold_pos=0.05, scff_threshold_neg=0.1),
}  # fmt: skip


def probe_table(trained: engine.Trained, ds) -> dict[str, float]:
    """Probe accuracy of every layer alone and of all layers concatenated."""
    model, keep = trained.model, trained.model.probe_layers
    model.probe_layers = list(range(model.n_layers))
    try:
        g = torch.Generator().manual_seed(trained.config.seed + engine.EVAL_SEED_OFFSET)
        tr = next(iter(model.latents(ds.x_train, g).values()))
        g = torch.Generator().manual_seed(trained.config.seed + engine.EVAL_SEED_OFFSET + 1)
        te = next(iter(model.latents(ds.x_test, g).values()))
    finally:
        model.probe_layers = keep
    seed = trained.config.seed
    out = {f"layer {i}": linear_probe(a.float(), ds.y_train, b.float(), ds.y_test, seed=seed) for i, (a, b) in enumerate(zip(tr, te))}
    if len(tr) > 1:
        out["combined"] = linear_probe(torch.cat(tr, 1).float(), ds.y_train, torch.cat(te, 1).float(), ds.y_test, seed=seed)
    return out


def main() -> None:
    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--runs", default="analog,spiking")
    parser.add_argument("--n-train", type=int, default=None)
    parser.add_argument("--n-test", type=int, default=None)
    parser.add_argument("--layers", default=None, help="override the hidden sizes, e.g. 500,500")
    parser.add_argument("--epochs-per-layer", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/bench_scff")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    results = {}
    for name in args.runs.split(","):
        settings = dict(RUNS[name])
        if args.layers:
            settings["layers"] = [int(v) for v in args.layers.split(",")]
        if args.epochs_per_layer:
            settings["scff_epochs_per_layer"] = args.epochs_per_layer
        epochs = settings["scff_epochs_per_layer"] * len(settings["layers"])
        cfg = FFConfig(rule="scff", embedding="none", dataset=args.dataset, epochs=epochs, seed=args.seed,
                       n_train=args.n_train, n_test=args.n_test, **settings).validate()  # fmt: skip
        ds = engine.prepare_dataset(cfg)
        print(f"\n== {name} SCFF on {ds.name} ({len(ds.x_train)} train / {len(ds.x_test)} test), layers {cfg.layers}, "
              f"{cfg.scff_epochs_per_layer} epochs per layer ==", flush=True)  # fmt: skip
        random = probe_table(engine.create(cfg, ds), ds)
        start = time.perf_counter()
        trained = engine.train(cfg, dataset=ds, progress=not args.quiet)
        wall = time.perf_counter() - start
        scff = probe_table(trained, ds)
        sec_per_epoch = sum(h["train_seconds"] for h in trained.history) / len(trained.history)
        print(f"{'features':<10} {'SCFF':>8} {'random':>8} {'gain':>7}")
        for key in scff:
            print(f"{key:<10} {100 * scff[key]:7.2f}% {100 * random[key]:7.2f}% {100 * (scff[key] - random[key]):+6.2f}")
        print(f"training: {sec_per_epoch:.1f} s per epoch (without the per-epoch probe); whole run {wall:.0f} s")
        results[name] = {"config": cfg.to_dict(), "scff": scff, "random": random, "seconds_per_epoch": sec_per_epoch,
                         "history": trained.history}  # fmt: skip
    path = write_json(Path(args.out) / f"bench_scff_{args.dataset}.json", results)
    print(f"\nwritten {path}; paper (MNIST, dense 2x2000, full data, 98.7%) for reference")


if __name__ == "__main__":
    try:
        main()
    except NeuroffError as err:
        print(f"bench_scff: error: {err}", file=sys.stderr)
        sys.exit(2)
