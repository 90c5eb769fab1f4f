"""Speed of online spiking FF training on Fashion-MNIST, and its op-count floor.

For each configuration: training samples/s of the online numba kernel (batch size 1, the local
rule, uniform wrong labels), test samples/s of the goodness read-out (10 candidate labels per
sample), and the op-count floor: the kernel's loop over the *same* spike rasters doing only the
input-current sums over active rows (``online_kernel.active_row_sums``), its samples/s and the
ratio floor / training (how far training is from the cost of just reading the synapses it uses).
The machine's load average is printed with each row: the 2 cores may be shared.

    .venv/bin/python bench/bench_speed.py                  # all configurations (~5 min)
    .venv/bin/python bench/bench_speed.py --configs reference --train-samples 5000

Writes bench/results/speed/speed.json and speed.png.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from neuroff.cli import Parser, guarded
from neuroff import engine  # noqa: E402
from neuroff.data import load_dataset  # noqa: E402
from neuroff.engine.options import FFConfig  # noqa: E402
from neuroff.families.ff import online_kernel  # noqa: E402
from neuroff.io import atomic_write, write_json  # noqa: E402
from neuroff.layers.options import REFERENCE_SPIKING  # noqa: E402

# name -> (config overrides, training samples timed). "reference" is the reference paper's
# configuration (1x200, rate code 0.25 per step), the one the issue's ~1,200 / ~700 samples/s
# refer to; "defaults" the ff family's spiking defaults (rate 1.0: four times the input spikes).
CONFIGS: dict[str, tuple[dict, int]] = {
    "reference": (dict(REFERENCE_SPIKING), 5000),
    "defaults": ({}, 5000),
    "1x2000": ({"layers": [2000]}, 1000),
    "3x2000": ({"layers": [2000, 2000, 2000]}, 500),
    "latency-1x200": ({"encoder": "latency"}, 5000),
    "2x400": ({"layers": [400, 400]}, 2000),
    # the direct (graded) input: the first layer's x is the same every step, so the kernel keeps its
    # updates pending and reads W x in O(N) per step; it has no spike raster, hence no floor row
    "direct-1x200": ({"encoder": "direct"}, 5000),
    "direct-1x2000": ({"encoder": "direct", "layers": [2000]}, 1000),
}
CHUNK = 256


def measure(name: str, overrides: dict, n_train: int, n_test: int, seed: int) -> dict:
    ds = load_dataset("fashion-mnist", seed=seed)
    config = FFConfig(dataset="fashion-mnist", seed=seed, **overrides).validate()
    trained = engine.create(config, ds)
    # the presentations (positive and wrong-label pairs), drawn once so both passes see the same
    batches = [
        engine.make_batch(trained, ds.x_train[lo : lo + CHUNK], ds.y_train[lo : lo + CHUNK], ds.n_classes)
        for lo in range(0, n_train, CHUNK)
    ]
    pairs = [torch.stack([b.x, b.x_neg], 1).reshape(2 * len(b.x), -1) for b in batches]
    rule = trained.rule
    rule.online(engine.create(config, ds).model, pairs[0][:16], torch.Generator().manual_seed(1))  # compile
    start = time.perf_counter()
    g = torch.Generator().manual_seed(seed)
    for xs in pairs:
        rule.online(trained.model, xs, g)
    train_sps = n_train / (time.perf_counter() - start)
    load_train = os.getloadavg()[0]

    start = time.perf_counter()
    engine.evaluate(trained, ds.x_test[:n_test], ds.y_test[:n_test])
    test_sps = n_test / (time.perf_counter() - start)

    row = {
        "config": name,
        "layers": config.layers,
        "encoder": config.encoder,
        "train_samples": n_train,
        "test_samples": n_test,
        "train_samples_per_s": round(train_sps, 1),
        "test_samples_per_s": round(test_sps, 1),
        "load_average_1min": round(load_train, 2),
    }
    if config.encoder == "direct":  # the floor is the active-row sums over a spike raster: not this input's algorithm
        return {**row, "floor_samples_per_s": None, "floor_over_train": None, "input_spike_rate": None, "hidden_spike_rates": []}
    # the same rasters again (same seed, same weights path), recorded for the floor
    again = engine.create(config, ds)
    g = torch.Generator().manual_seed(seed)
    rasters = []
    for xs in pairs:
        again.rule.online(again.model, xs, g, record_layer_inputs=True)
        rasters.append(online_kernel.List(again.rule.last_layer_inputs))
    w_hats = online_kernel.List([w.T.contiguous().numpy().copy() for w in again.model.weights])
    online_kernel.active_row_sums(online_kernel.List([r[:1] for r in rasters[0]]), w_hats)  # compile
    start = time.perf_counter()
    for r in rasters:
        online_kernel.active_row_sums(r, w_hats)
    floor_sps = n_train / (time.perf_counter() - start)
    input_rate = float(sum(r[0].mean() for r in rasters) / len(rasters))
    hidden_rates = [float(sum(r[i].mean() for r in rasters) / len(rasters)) for i in range(1, len(rasters[0]))]
    return {
        **row,
        "floor_samples_per_s": round(floor_sps, 1),
        "floor_over_train": round(floor_sps / train_sps, 2),
        "input_spike_rate": round(input_rate, 4),
        "hidden_spike_rates": [round(r, 4) for r in hidden_rates],
    }


def plot(rows: list[dict], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    names = [r["config"] for r in rows]
    xs = range(len(rows))
    width = 0.27
    for k, (key, label) in enumerate(
        [("train_samples_per_s", "training (online kernel)"), ("test_samples_per_s", "test (goodness read-out)"),
         ("floor_samples_per_s", "op-count floor (active-row sums only)")]
    ):
        ax.bar([x + (k - 1) * width for x in xs], [r[key] or float("nan") for r in rows], width, label=label)  # no floor: no bar
    ax.set_yscale("log")
    ax.set_xticks(list(xs), names)
    ax.set(title="Online spiking FF on Fashion-MNIST: samples per second (1 thread)",
           xlabel="configuration", ylabel="samples / s (log scale)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    caption = ("Caption: bench/bench_speed.py; training and floor on the same spike rasters; "
               f"load average during runs {min(r['load_average_1min'] for r in rows):.1f}-"
               f"{max(r['load_average_1min'] for r in rows):.1f} on 2 cores"
               + ("; direct-input rows have no floor (their first layer reads no spike raster)."
                  if any(r["floor_samples_per_s"] is None for r in rows) else "."))
    fig.text(0.01, 0.01, textwrap.fill(caption, 130), fontsize=7)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120))
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = Parser(prog="bench_speed.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated subset of {', '.join(CONFIGS)}")
    ap.add_argument("--train-samples", type=int, default=None, help="override each configuration's timed training samples")
    ap.add_argument("--test-samples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/results/speed")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    names = args.configs.split(",")
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        ap.error(f"unknown configuration {unknown[0]!r}; choose from {', '.join(CONFIGS)}")
    rows = []
    print(f"{'config':14s} {'train/s':>8s} {'test/s':>8s} {'floor/s':>9s} {'floor/train':>11s} {'load':>5s}")
    for name in names:
        overrides, n_train = CONFIGS[name]
        row = measure(name, overrides, args.train_samples or n_train, args.test_samples, args.seed)
        rows.append(row)
        floor = "-" if row["floor_samples_per_s"] is None else f"{row['floor_samples_per_s']:.0f}"
        ratio = "-" if row["floor_over_train"] is None else f"{row['floor_over_train']:.2f}"
        print(f"{name:14s} {row['train_samples_per_s']:8.0f} {row['test_samples_per_s']:8.0f} "
              f"{floor:>9s} {ratio:>11s} {row['load_average_1min']:5.1f}", flush=True)
    out = Path(args.out)
    write_json(out / "speed.json", {"dataset": "fashion-mnist", "rows": rows})
    plot(rows, out / "speed.png")
    print(f"wrote {out / 'speed.json'} and speed.png")


if __name__ == "__main__":
    sys.exit(guarded(main))
