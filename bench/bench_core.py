"""Core benchmark: test accuracy and wall seconds per training epoch of the spiking (online and
mini-batch) and analog FF networks, plus the online kernel's speed with and without the
sparse-spike savings. Prints a table; writes bench/results/core.json and core.png.

    .venv/bin/python bench/bench_core.py                      # everything (~1 h on 2 cores)
    .venv/bin/python bench/bench_core.py --runs reference-online --datasets fashion-mnist
    .venv/bin/python bench/bench_core.py --speed-only
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from neuroff.cli import Parser, guarded
from neuroff import engine  # noqa: E402
from neuroff.engine.options import FFConfig  # noqa: E402
from neuroff.data import load_dataset  # noqa: E402
from neuroff.io import atomic_write, write_json  # noqa: E402

# name -> (config overrides, epochs). "reference" is the authors' notebook configuration.
RUNS: dict[str, tuple[dict, int]] = {
    "reference-online": ({}, 2),
    "reference-batched": ({"batch_size": 32, "lr": 0.02}, 1),
    "best-online": ({"max_rate": 0.5, "lr": 0.001, "lr_decay": 0.8, "eval_repeats": 3}, 3),
    "two-layer-online": ({"layers": [200, 200], "max_rate": 0.5, "lr": 0.001, "lr_decay": 0.8}, 1),
    "analog": ({"mode": "analog", "analog_lr": 0.001, "lr_decay": 0.85}, 8),
}


def run_training(name: str, dataset: str, overrides: dict, epochs: int, seed: int) -> dict:
    ds = load_dataset(dataset, seed=seed)
    cfg = FFConfig(dataset=dataset, epochs=epochs, seed=seed, **overrides)
    trained = engine.train(cfg, dataset=ds, progress=True)
    return {
        "run": name,
        "dataset": dataset,
        "config": cfg.to_dict(),
        "test_accuracy": [h["test_accuracy"] for h in trained.history],
        "seconds_per_epoch": [h["train_seconds"] for h in trained.history],
        "samples_per_s": [h["samples_per_s"] for h in trained.history],
    }


def online_speed(dataset: str, n: int, sparse: bool, seed: int) -> float:
    """Samples/s of the online kernel alone (pairing + kernel, no evaluation)."""
    ds = load_dataset(dataset, seed=seed)
    n = min(n, len(ds.x_train))
    ds = ds.subset(n, 1)
    trained = engine.create(FFConfig(dataset=dataset, sparse=sparse, seed=seed), ds)
    x, y = ds.x_train, ds.y_train
    trained.rule.step(trained.model, engine.make_batch(trained, x[:64], y[:64], ds.n_classes))  # compile/warm up
    start = time.perf_counter()
    for lo in range(0, n, 256):
        trained.rule.step(trained.model, engine.make_batch(trained, x[lo : lo + 256], y[lo : lo + 256], ds.n_classes))
    return n / (time.perf_counter() - start)


def plot(results: list[dict], path: Path) -> None:
    datasets = sorted({r["dataset"] for r in results})
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        for r in (r for r in results if r["dataset"] == dataset):
            ax.plot(range(1, len(r["test_accuracy"]) + 1), r["test_accuracy"], marker="o", label=r["run"])
        ax.set(title=dataset, xlabel="epoch", ylabel="test accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120))
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = Parser(prog="bench_core.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="fashion-mnist,mnist5k")
    ap.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated subset of {', '.join(RUNS)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--speed-samples", type=int, default=5000)
    ap.add_argument("--speed-dataset", default="fashion-mnist")
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core machine)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    unknown = [r for r in args.runs.split(",") if r not in RUNS]
    if unknown:
        sys.exit(f"unknown run(s) {unknown}; choose from {', '.join(RUNS)}")
    out = Path(args.out)
    report: dict = {"speed": {}, "runs": []}

    dataset = args.speed_dataset
    for sparse in () if args.no_speed else (True, False):
        sps = online_speed(dataset, args.speed_samples, sparse, args.seed)
        report["speed"][f"online_{'sparse' if sparse else 'dense'}_samples_per_s"] = round(sps, 1)
        print(f"online kernel on {dataset}, sparse={sparse}: {sps:.0f} samples/s", flush=True)
    if not args.speed_only:
        for dataset in args.datasets.split(","):
            for name in args.runs.split(","):
                overrides, epochs = RUNS[name]
                r = run_training(name, dataset, overrides, epochs, args.seed)
                report["runs"].append(r)
                accs = " ".join(f"{a:.4f}" for a in r["test_accuracy"])
                print(f"{dataset:14s} {name:18s} acc/epoch [{accs}]  s/epoch {r['seconds_per_epoch'][-1]:.1f}", flush=True)
                write_json(out / "core.json", report)
        plot(report["runs"], out / "core.png")
    write_json(out / "core.json", report)
    print(f"wrote {out / 'core.json'}")


if __name__ == "__main__":
    sys.exit(guarded(main))
