"""Contrastive neuron-centric Hebbian vs backprop: peak training memory, and (optionally) test
accuracy and seconds per epoch, on the same dense net.

    .venv/bin/python bench/bench_contrastive_hebbian.py                   # memory, 4x2000 on mnist5k (~2 min)
    .venv/bin/python bench/bench_contrastive_hebbian.py --accuracy 3      # + 3 epochs of each on mnist5k

Memory: each method runs in its own fresh Python process (``--child``) that loads the data and
builds the net, then resets the kernel's resident-set high-water mark (``/proc/self/clear_refs``
← 5, Linux) and runs ``--steps`` training mini-batches. Reported: the peak resident set during
training (VmHWM) minus the resident set just before it (VmRSS), i.e. the memory training adds on
top of the model and data. glibc is told to serve every allocation above 64 KiB by mmap
(MALLOC_MMAP_THRESHOLD_), so freed tensors leave the resident set at once and the peak is the
peak of live memory, not of the allocator's cache. The contrastive-Hebbian net's weights and
pending updates are buffers, its C's the only parameters; backprop is ``neuroff.baselines``'
BackpropNet (ReLU) with SGD, momentum 0.9. Both nets' resting size (weights + optimiser state +
pending updates) is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from neuroff.baselines import BackpropNet, accuracy, train_backprop
from neuroff.blockspec import Dense, blocks_from_layers
from neuroff.contrastive_hebbian import ContrastiveHebbianNet
from neuroff.data import load_dataset
from neuroff.rules.contrastive_hebbian import ContrastiveHebbianRule

METHODS = ("contrastive-hebbian", "backprop-sgd-momentum")


def _status(field: str) -> int:
    """A /proc/self/status field in bytes."""
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def child(method: str, dataset: str, layers: list[int], steps: int, batch: int, seed: int) -> dict:
    torch.set_num_threads(1)
    ds = load_dataset(dataset, seed=seed)
    g = torch.Generator().manual_seed(seed)
    if method == "contrastive-hebbian":
        net = ContrastiveHebbianNet([Dense(n) for n in layers], (ds.n_features,), ds.n_classes, g)
        rule = ContrastiveHebbianRule(net, batch_size=batch)

        def step(x, y):
            rule.step(net, x, x, g, labels=y)

        resting = lambda: _tensor_bytes([*net.buffers(), *net.parameters()]) + _tensor_bytes(  # noqa: E731
            v for s in rule.optimizer.state.values() for v in s.values() if torch.is_tensor(v)
        )
    else:
        net = BackpropNet(blocks_from_layers(ds.n_features, layers), ds.n_classes, g)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

        def step(x, y):
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

        resting = lambda: _tensor_bytes(net.parameters()) + _tensor_bytes(  # noqa: E731
            v for s in opt.state.values() for v in s.values() if torch.is_tensor(v)
        ) + _tensor_bytes(p.grad for p in net.parameters() if p.grad is not None)
    step(ds.x_train[:batch], ds.y_train[:batch])  # optimiser state exists from here on
    before = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident set
    start = time.perf_counter()
    for k in range(1, steps + 1):
        lo = (k * batch) % (ds.n_train - batch)
        step(ds.x_train[lo : lo + batch], ds.y_train[lo : lo + batch])
    seconds = time.perf_counter() - start
    peak = _status("VmHWM")
    return {"method": method, "rss_before_mb": before / 2**20, "peak_rss_mb": peak / 2**20,
            "training_peak_extra_mb": (peak - before) / 2**20, "resting_state_mb": resting() / 2**20,
            "seconds_per_step": seconds / steps}  # fmt: skip


def measure(method: str, args: argparse.Namespace) -> dict:
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--child", method, "--dataset", args.dataset, "--layers", args.layers,
           "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--seed", str(args.seed)]  # fmt: skip
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def accuracy_table(args: argparse.Namespace, layers: list[int]) -> list[dict]:
    """Test accuracy and seconds per epoch of both methods after --accuracy epochs (engine run
    for the rule; backprop with Adam, lr 1e-3, the baselines' default)."""
    from neuroff import engine
    from neuroff.config import FFConfig

    cfg = FFConfig(rule="contrastive-hebbian", mode="analog", embedding="none", layers=layers, dataset=args.dataset,
                   epochs=args.accuracy, seed=args.seed, batch_size=args.batch_size)  # fmt: skip
    trained = engine.train(cfg, progress=not args.quiet)
    ds = load_dataset(args.dataset, seed=args.seed)
    rows = [{"method": "contrastive-hebbian", "test_accuracy": trained.history[-1]["test_accuracy"],
             "seconds_per_epoch": sum(h["train_seconds"] for h in trained.history) / len(trained.history),
             "meta_parameters": trained.model.n_meta_parameters(), "weights": trained.model.n_weights()}]  # fmt: skip
    res = train_backprop(blocks_from_layers(ds.n_features, layers), ds.x_train, ds.y_train, ds.x_test[:0], ds.y_test[:0],
                         ds.n_classes, epochs=args.accuracy, batch_size=args.batch_size, seed=args.seed, progress=not args.quiet)  # fmt: skip
    rows.append({"method": "backprop-adam", "test_accuracy": accuracy(res.model, ds.x_test, ds.y_test),
                 "seconds_per_epoch": sum(h["train_seconds"] for h in res.history) / len(res.history),
                 "meta_parameters": None, "weights": sum(p.numel() for p in res.model.parameters())})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist5k")
    parser.add_argument("--layers", default="2000,2000,2000,2000")
    parser.add_argument("--steps", type=int, default=20, help="training mini-batches measured per method")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--accuracy", type=int, default=0, help="also train this many epochs of each and print test accuracy")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    layers = [int(v) for v in args.layers.split(",")]
    if args.child:
        print(json.dumps(child(args.child, args.dataset, layers, args.steps, args.batch_size, args.seed)))
        return
    torch.set_num_threads(1)
    print(f"peak training memory, dense {args.layers} on {args.dataset}, batch {args.batch_size}, {args.steps} steps")
    print("| method | RSS before training (MB) | peak RSS (MB) | training adds (MB) | resting state (MB) | s/step |")
    print("|---|---|---|---|---|---|")
    for method in METHODS:
        r = measure(method, args)
        print(f"| {method} | {r['rss_before_mb']:.0f} | {r['peak_rss_mb']:.0f} | {r['training_peak_extra_mb']:.0f} | "
              f"{r['resting_state_mb']:.0f} | {r['seconds_per_step']:.3f} |")  # fmt: skip
    if args.accuracy:
        print(f"\ntest accuracy after {args.accuracy} epochs on {args.dataset}")
        print("| method | test accuracy | s/epoch | meta-parameters | weights |")
        print("|---|---|---|---|---|")
        for r in accuracy_table(args, layers):
            print(f"| {r['method']} | {r['test_accuracy']:.4f} | {r['seconds_per_epoch']:.1f} | {r['meta_parameters']} | {r['weights']} |")


if __name__ == "__main__":
    main()
