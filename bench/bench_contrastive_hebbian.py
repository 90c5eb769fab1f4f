"""Contrastive neuron-centric Hebbian vs backprop on the same nets: test accuracy, seconds per
epoch, peak training memory, meta-parameter vs weight counts, Split-dataset continual learning
and the thesis's variants. Prints the tables and writes bench/results/contrastive_hebbian.json
(+ .png, and continual_<dataset>.png per Split run).

    .venv/bin/python bench/bench_contrastive_hebbian.py                          # every section (~50 min, one core)
    .venv/bin/python bench/bench_contrastive_hebbian.py --sections split --split-datasets mnist5k
    .venv/bin/python bench/bench_contrastive_hebbian.py --print                  # tables of the stored JSON only

Sections (each replaces its own entry in the JSON, so they can be run one at a time):

- ``linear``: the dense net (--layers, default 4×2000) on each --datasets entry, the rule (engine
  run, thesis defaults: tanh, η 1e-3, AdamW 0.03 on the C's) for --epochs epochs vs backprop on the
  same layers (Adam 1e-3, tanh — the same architecture — and ReLU), final test accuracy.
- ``conv``: the same for the conv net (--conv-blocks).
- ``split``: ``neuroff.studies.continual.run_continual`` (pairs 0/1 … 8/9, one epoch each, single head)
  for the rule and backprop (same layers and activation, Adam 1e-4) on each --split-datasets entry.
- ``variants``: on --variant-dataset for --variant-epochs epochs: the dense net with the thesis's
  defaults, with momentum 0.9, with label smoothing 0.1, with ReLU; the conv net at width
  factors 1, 2, 4 (channels of --conv-blocks × factor / 2, i.e. the default net is factor 2).
- ``reference``: more backprop references for the dense net on each --datasets entry, one per
  --bp-activations × --ref-lrs (Adam learning rates), --epochs epochs: Adam 1e-3 is not the best
  setting for a 4×2000 tanh net, and the rule should be compared with a good backprop too.
- ``probe``: are the rule's hidden features better than random ones, and than backprop's?
  ``neuroff.studies.probes.rule_vs_backprop_features``: the dense --probe-layers net on
  --probe-dataset, at initialisation and after --probe-steps mini-batches (one epoch on the first
  --probe-steps × --batch-size training samples) of the rule and of backprop (tanh, Adam 1e-3):
  the contrastive loss of every hidden layer on 256 test samples and neuroff's linear probe
  (Adam, as below) of the last hidden layer, trained on the first 10,000 training samples and
  tested on the first 2,000 test samples. (Rows stored before the probe moved into the library
  were measured with a plain Adam read-out, 3 epochs, and random training mini-batches.)
- ``conv-probe``: where does the conv net lose accuracy? --conv-blocks trained by the rule for
  --conv-probe-epochs epochs on 10,000 samples of --probe-dataset;
  ``neuroff.studies.probes.probe_trained_and_random``: neuroff's linear probe
  (``neuroff.engine.readout.linear_probe``: standardised features, Adam, dropout 0.2, 20 epochs) on every
  hidden layer of the trained net and of the same net at initialisation, tested on 2,000 test
  samples, and the net's own (Hebbian-descent head) accuracy on the same test samples.
- ``head``: the Hebbian-descent head alone on frozen features: --head-blocks at its random
  initialisation (seed 0) turned into features of all of --probe-dataset, then a head trained
  for --head-epochs epochs (batch 64) with its weights L2-normalised per output neuron (fan-in)
  or per input neuron (fan-out): Hebbian descent with C = 1 at η 1e-3 and 1e-2, and the rule's
  own head with meta-learned C's (a ContrastiveHebbianNet without hidden layers, η 1e-3); with
  fan-out also η 3e-2 × 0.7^epoch (``--ch-eta-decay``), plain and meta-learned;
  test accuracy after every epoch (``neuroff.studies.head.train_head``). Also the unit-norm class
  means as a prototype classifier (``prototype_accuracy``).
- ``schedule``: --schedule-blocks (the conv net without its dense layer) on all of Fashion-MNIST
  for --schedule-epochs epochs with the head section's best schedule, η 3e-2 × 0.7^epoch for the
  dense head (``--ch-eta 0.03 --ch-eta-decay 0.7``; conv η 1e-4 × 0.7^epoch), the C's meta-learned
  at each --schedule-meta-lrs AdamW rate (0: the C's stay at 1); test accuracy after every epoch.
- ``memory``: ``neuroff.studies.memory.training_memory_in_fresh_process``: each method in its own
  fresh Python process loads --memory-dataset and builds the net on --layers, then resets the
  kernel's resident-set high-water mark (Linux) and runs --steps training mini-batches. Reported:
  the peak resident set during training minus the resident set just before it, i.e. the memory
  training adds on top of the model and data (every allocation above 64 KiB is its own mapping,
  so this is the peak of live memory, not of the allocator's cache). Backprop is ``BackpropNet``
  (tanh) with SGD, momentum 0.9. Both nets' resting size (weights + optimiser state + pending
  updates) too.

Every run uses one torch thread (set OMP_NUM_THREADS=1 as well), seed 0, batch 64.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import torch

from neuroff import engine
from neuroff.cli import Parser, guarded
from neuroff.engine.options import FFConfig
from neuroff.data import load_dataset
from neuroff.io import atomic_write, read_json, write_json
from neuroff.studies.baselines import accuracy, train_backprop
from neuroff.studies.continual import network_spec, run_continual
from neuroff.studies.head import prototype_accuracy, train_head
from neuroff.studies.memory import METHODS, training_memory_in_fresh_process
from neuroff.studies.probes import layer_features, probe_trained_and_random, rule_vs_backprop_features

SECTIONS = ("linear", "conv", "split", "variants", "memory", "probe", "conv-probe", "head", "schedule", "reference")
RESULTS = Path(__file__).resolve().parent / "results"
THESIS = {"mnist linear": 0.9698, "mnist conv": 0.9904, "split-mnist conv average": 0.848, "split-mnist backprop average": 0.773}
MB = 2**20


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def memory_section(args: argparse.Namespace) -> dict:
    rows = []
    for method in METHODS:
        m = training_memory_in_fresh_process(method, args.memory_dataset, _ints(args.layers), args.steps, args.batch_size, args.seed)
        rows.append({"method": m.method, "rss_before_mb": m.rss_before / MB, "peak_rss_mb": m.peak_rss / MB,
                     "training_peak_extra_mb": m.training_extra / MB, "resting_state_mb": m.resting_state / MB,
                     "seconds_per_step": m.seconds_per_step})  # fmt: skip
    return {"dataset": args.memory_dataset, "layers": args.layers, "steps": args.steps, "rows": rows}


# ---------------------------------------------------------------- accuracy


def _ch_config(dataset: str, args: argparse.Namespace, **fields: Any) -> FFConfig:
    """The rule on ``dataset`` as every section runs it (analog, no label embedded, --seed, --batch-size)."""
    return FFConfig(rule="contrastive-hebbian", mode="analog", embedding="none", dataset=dataset, seed=args.seed,
                    batch_size=args.batch_size, **fields)  # fmt: skip


def rule_run(dataset: str, net: dict[str, Any], epochs: int, args: argparse.Namespace, **ch: Any) -> dict:
    """One engine run of the rule; ``net`` is {"layers": [...]} or {"blocks": "..."}; ``ch`` sets
    ch_* config fields (a variant)."""
    cfg = _ch_config(dataset, args, epochs=epochs, **net, **{f"ch_{k}": v for k, v in ch.items()})
    trained = engine.train(cfg, progress=not args.quiet)
    h = trained.history
    return {"method": "contrastive-hebbian", "dataset": dataset, **net, "variant": ch, "epochs": epochs,
            "test_accuracy": h[-1]["test_accuracy"], "test_accuracy_per_epoch": [r["test_accuracy"] for r in h],
            "seconds_per_epoch": sum(r["train_seconds"] for r in h) / len(h),
            "meta_parameters": trained.model.n_meta_parameters(), "weights": trained.model.n_weights()}  # fmt: skip


def backprop_run(
    dataset: str, net: dict[str, Any], epochs: int, activation: str, args: argparse.Namespace, lr: float = 1e-3
) -> dict:
    """Backprop on the same layers: Adam ``lr``, ``epochs`` epochs, the final model's test accuracy."""
    ds = load_dataset(dataset, seed=args.seed)
    spec = network_spec(_ch_config(dataset, args, **net), ds.n_features)
    res = train_backprop(spec, ds.x_train, ds.y_train, ds.x_test[:0], ds.y_test[:0], ds.n_classes, epochs=epochs,
                         batch_size=args.batch_size, lr=lr, seed=args.seed, progress=not args.quiet, activation=activation)  # fmt: skip
    name = f"backprop-adam-{activation}" if lr == 1e-3 else f"backprop-adam{lr:g}-{activation}"
    return {"method": name, "dataset": dataset, "lr": lr, **net, "epochs": epochs,
            "test_accuracy": accuracy(res.model, ds.x_test, ds.y_test),
            "seconds_per_epoch": sum(h["train_seconds"] for h in res.history) / len(res.history),
            "meta_parameters": None, "weights": sum(p.numel() for p in res.model.parameters())}  # fmt: skip


def accuracy_section(args: argparse.Namespace, net: dict[str, Any]) -> dict:
    rows = []
    for dataset in args.datasets.split(","):
        rows.append(rule_run(dataset, net, args.epochs, args))
        _say(rows[-1])
        for act in args.bp_activations.split(","):
            rows.append(backprop_run(dataset, net, args.epochs, act, args))
            _say(rows[-1])
    return {"epochs": args.epochs, "rows": rows}


def reference_section(args: argparse.Namespace) -> dict:
    net, rows = {"layers": _ints(args.layers)}, []
    for dataset in args.datasets.split(","):
        for act in args.bp_activations.split(","):
            for lr in (float(v) for v in args.ref_lrs.split(",")):
                rows.append(backprop_run(dataset, net, args.epochs, act, args, lr))
                _say(rows[-1])
    return {"epochs": args.epochs, "rows": rows}


def scaled_blocks(blocks: str, factor: int) -> str:
    """The conv layers' channel counts × factor / 2 ("c32k5p2" at factor 1 → "c16k5p2")."""
    return re.sub(r"\bc(\d+)", lambda m: f"c{int(m.group(1)) * factor // 2}", blocks)


def variants_section(args: argparse.Namespace) -> dict:
    ds, ep, dense = args.variant_dataset, args.variant_epochs, {"layers": _ints(args.layers)}
    rows = []
    for variant in ({}, {"momentum": 0.9}, {"smoothing": 0.1}, {"activation": "relu"}):
        rows.append({"name": "dense " + (", ".join(f"{k} {v}" for k, v in variant.items()) or "thesis defaults"),
                     **rule_run(ds, dense, ep, args, **variant)})  # fmt: skip
        _say(rows[-1])
    for factor in (1, 2, 4):
        rows.append({"name": f"conv width x{factor}", **rule_run(ds, {"blocks": scaled_blocks(args.conv_blocks, factor)}, ep, args)})
        _say(rows[-1])
    return {"dataset": ds, "epochs": ep, "rows": rows}


def schedule_section(args: argparse.Namespace, stored: dict) -> dict:
    """--schedule-blocks on Fashion-MNIST with the head-section schedule η 3e-2 × 0.7^epoch, for
    every --schedule-meta-lrs entry (0: the C's stay 1). Replaces the stored rows of the same
    net and meta rate only, so one rate can be re-run (or run longer) on its own."""
    net, rows, rates = {"blocks": args.schedule_blocks}, [], [float(v) for v in args.schedule_meta_lrs.split(",")]
    for meta_lr in rates:
        rows.append(rule_run("fashion-mnist", net, args.schedule_epochs, args, eta=3e-2, eta_decay=0.7, meta_lr=meta_lr))
        _say(rows[-1])
    kept = [x for x in stored.get("rows", []) if x["blocks"] != net["blocks"] or x["variant"]["meta_lr"] not in rates]
    return {"rows": sorted(kept + rows, key=lambda x: (x["blocks"], -x["variant"]["meta_lr"]))}


def split_section(args: argparse.Namespace) -> dict:
    out = {}
    for dataset in args.split_datasets.split(","):
        cfg = _ch_config(dataset, args, epochs=1, layers=_ints(args.layers))
        work = Path(args.work) / f"continual-{dataset}"
        report = run_continual(cfg, work, backprop=True, progress=not args.quiet)
        shutil.copyfile(work / "continual.png", Path(args.out).parent / f"continual_{dataset}.png")
        out[dataset] = {k: report[k] for k in ("dataset", "tasks", "methods", "backprop_lr", "backprop_activation")}
        print(json.dumps({dataset: {m: r["average_accuracy"] for m, r in report["methods"].items()}}), flush=True)
    return out


def probe_section(args: argparse.Namespace) -> dict:
    layers = _ints(args.probe_layers)
    cfg = _ch_config(args.probe_dataset, args, layers=layers)
    rows = rule_vs_backprop_features(cfg, args.probe_steps, solver="adam")
    return {"dataset": args.probe_dataset, "layers": layers,
            "rows": [{"after_steps": str(r.steps), "layer_losses": r.layer_losses, "probe_rule": r.probe_rule,
                      "probe_backprop": r.probe_backprop} for r in rows]}  # fmt: skip


def conv_probe_section(args: argparse.Namespace) -> dict:
    cfg = _ch_config(args.probe_dataset, args, blocks=args.conv_blocks, n_train=10_000, n_test=2000, epochs=args.conv_probe_epochs)
    ds = engine.prepare_dataset(cfg)
    r = probe_trained_and_random(cfg, ds, progress=not args.quiet, solver="adam")
    return {"dataset": args.probe_dataset, "blocks": args.conv_blocks, "epochs": args.conv_probe_epochs, "n_train": len(ds.x_train),
            "probe_trained": r.probe_trained.per_layer, "probe_random": r.probe_random.per_layer,
            "head_accuracy": r.trained.history[-1]["test_accuracy"]}  # fmt: skip


# (weight norm, η, per-epoch decay of η, meta-learned C's); the decayed rows only for the default norm
HEAD_SETTINGS = (("fan-out", 1e-3, 1.0, False), ("fan-out", 1e-2, 1.0, False), ("fan-out", 1e-3, 1.0, True),
                 ("fan-out", 3e-2, 0.7, False), ("fan-out", 3e-2, 0.7, True),
                 ("fan-in", 1e-3, 1.0, False), ("fan-in", 1e-2, 1.0, False), ("fan-in", 1e-3, 1.0, True))  # fmt: skip


def head_section(args: argparse.Namespace) -> dict:
    cfg = _ch_config(args.probe_dataset, args, blocks=args.head_blocks)
    ds = engine.prepare_dataset(cfg)
    body = engine.create(cfg, ds)  # frozen at its seeded random initialisation
    f_train, f_test = (layer_features(body, x, layers=[-1])[0] for x in (ds.x_train, ds.x_test))
    rows = []
    for norm, eta, decay, meta in HEAD_SETTINGS:
        acc = train_head(f_train, ds.y_train, f_test, ds.y_test, ds.n_classes, args.head_epochs, eta, decay, meta, norm,
                         args.batch_size, args.seed)  # fmt: skip
        rows.append({"weight_norm": norm, "eta": eta, "eta_decay": decay, "meta_learned_c": meta, "test_accuracy_per_epoch": acc})
        print(json.dumps(rows[-1]), flush=True)
    return {"dataset": args.probe_dataset, "blocks": args.head_blocks, "epochs": args.head_epochs, "n_features": f_train.shape[1],
            "feature_norm": float(f_train.norm(dim=1).mean()),
            "prototype_accuracy": prototype_accuracy(f_train, ds.y_train, f_test, ds.y_test, ds.n_classes), "rows": rows}  # fmt: skip


# ---------------------------------------------------------------- report


def _say(row: dict) -> None:
    print(json.dumps({k: v for k, v in row.items() if k != "test_accuracy_per_epoch"}), flush=True)


def _net_name(row: dict) -> str:
    return row["blocks"] if "blocks" in row else "dense " + "x".join(map(str, row["layers"]))


def tables(results: dict) -> str:
    out = []
    for section in ("linear", "conv", "reference"):
        if section in results:
            r = results[section]
            title = "more backprop references for the dense net" if section == "reference" else f"{section} nets"
            out += [f"\n{title}, test accuracy after {r['epochs']} epochs (s/epoch on one thread)", "",
                    "| net | dataset | method | test accuracy | s/epoch | meta-parameters | weights |", "|---|---|---|---|---|---|---|"]  # fmt: skip
            out += [f"| {_net_name(x)} | {x['dataset']} | {x['method']} | {x['test_accuracy']:.4f} | {x['seconds_per_epoch']:.0f} | "
                    f"{x['meta_parameters'] if x['meta_parameters'] is not None else '-'} | {x['weights']:,} |" for x in r["rows"]]  # fmt: skip
    if "variants" in results:
        r = results["variants"]
        out += [f"\nvariants on {r['dataset']}, {r['epochs']} epochs", "", "| variant | net | test accuracy | per epoch | s/epoch |", "|---|---|---|---|---|"]
        out += [f"| {x['name']} | {_net_name(x)} | {x['test_accuracy']:.4f} | {', '.join(f'{a:.3f}' for a in x['test_accuracy_per_epoch'])} | "
                f"{x['seconds_per_epoch']:.0f} |" for x in r["rows"]]  # fmt: skip
    if "schedule" in results:
        r = results["schedule"]
        out += ["\nconv net on fashion-mnist, η 3e-2 × 0.7^epoch", "",
                "| net | AdamW rate of the C's | epochs | final test accuracy | per epoch | s/epoch |", "|---|---|---|---|---|---|"]  # fmt: skip
        out += [f"| {_net_name(x)} | {x['variant']['meta_lr']:g} | {x['epochs']} | {x['test_accuracy']:.4f} | "
                f"{', '.join(f'{a:.4f}' for a in x['test_accuracy_per_epoch'])} | {x['seconds_per_epoch']:.0f} |" for x in r["rows"]]  # fmt: skip
    if "probe" in results:
        r = results["probe"]
        out += [f"\nlinear probe of the last hidden layer, dense {'x'.join(map(str, r['layers']))} on {r['dataset']} "
                "(rule vs backprop-tanh features; contrastive loss per hidden layer of the rule)", "",
                "| mini-batches trained | rule's layer losses | probe on rule features | probe on backprop features |", "|---|---|---|---|"]  # fmt: skip
        out += [f"| {x['after_steps']} | {', '.join(f'{v:.3f}' for v in x['layer_losses'])} | {x['probe_rule']:.4f} | "
                f"{x['probe_backprop']:.4f} |" for x in r["rows"]]  # fmt: skip
    if "conv-probe" in results:
        r = results["conv-probe"]
        out += [f"\nlinear probe of every hidden layer, {r['blocks']} on {r['n_train']:,} {r['dataset']} samples, "
                f"{r['epochs']} epochs of the rule vs the same net at initialisation (neuroff's adam probe)", "",
                "| hidden layer | probe, trained | probe, random init |", "|---|---|---|"]  # fmt: skip
        out += [f"| {i} | {a:.4f} | {b:.4f} |" for i, (a, b) in enumerate(zip(r["probe_trained"], r["probe_random"]))]
        out.append(f"| the net's own head (Hebbian descent) | {r['head_accuracy']:.4f} | |")
    if "head" in results:
        r = results["head"]
        out += [f"\nthe Hebbian-descent head alone on frozen random features ({r['blocks']}, {r['n_features']} features, mean norm "
                f"{r['feature_norm']:.1f}) of {r['dataset']}: test accuracy per epoch; unit-norm class means: {r['prototype_accuracy']:.4f}", "",
                "| weights normalised per | η | C's | test accuracy per epoch |", "|---|---|---|---|"]  # fmt: skip
        out += [f"| {'input neuron (fan-out)' if x['weight_norm'] == 'fan-out' else 'output neuron (fan-in)'} | {x['eta']:g}"
                f"{' × %g^epoch' % x['eta_decay'] if x.get('eta_decay', 1.0) != 1.0 else ''} | "
                f"{'meta-learned' if x['meta_learned_c'] else '1'} | {', '.join(f'{a:.4f}' for a in x['test_accuracy_per_epoch'])} |" for x in r["rows"]]  # fmt: skip
    for dataset, r in results.get("split", {}).items():
        names = ["/".join(map(str, g)) for g in r["tasks"]]
        out += [f"\nSplit-{dataset} (one epoch per task, single head): accuracy on every task after the last one", "",
                "| method | " + " | ".join(names) + " | average | right after training it |", "|---" * (len(names) + 3) + "|"]  # fmt: skip
        for m, s in r["methods"].items():
            diag = [row[i] for i, row in enumerate(s["accuracy_matrix"])]
            label = f"{m} (Adam {r['backprop_lr']:g}, {r['backprop_activation']})" if m == "backprop" else m
            out.append(f"| {label} | " + " | ".join(f"{a:.3f}" for a in s["final_accuracy"])
                       + f" | **{s['average_accuracy']:.3f}** | {', '.join(f'{a:.2f}' for a in diag)} |")  # fmt: skip
    if "memory" in results:
        r = results["memory"]
        out += [f"\npeak training memory, dense {r['layers']} on {r['dataset']}, batch 64, {r['steps']} steps", "",
                "| method | RSS before training (MB) | peak RSS (MB) | training adds (MB) | resting state (MB) | s/step |", "|---|---|---|---|---|---|"]  # fmt: skip
        out += [f"| {x['method']} | {x['rss_before_mb']:.0f} | {x['peak_rss_mb']:.0f} | {x['training_peak_extra_mb']:.0f} | "
                f"{x['resting_state_mb']:.0f} | {x['seconds_per_step']:.3f} |" for x in r["rows"]]  # fmt: skip
    return "\n".join(out) + "\n"


def plot(results: dict, path: Path) -> None:
    """Test accuracy of the rule and backprop per net and dataset (left), Split averages (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(18, 5))
    rows = [x for s in ("linear", "conv", "reference") for x in results.get(s, {}).get("rows", [])]
    groups = sorted({(_net_name(x), x["dataset"]) for x in rows}, key=str)
    methods = sorted({x["method"] for x in rows})
    width = 0.8 / max(len(methods), 1)
    for m, method in enumerate(methods):
        acc = [next((x["test_accuracy"] for x in rows if (_net_name(x), x["dataset"]) == g and x["method"] == method), 0.0) for g in groups]
        ax1.bar([i + m * width for i in range(len(groups))], acc, width, label=method)
    labels = [f"{textwrap.fill(n.replace(',', ', '), 18)}\n{d}" for n, d in groups]
    ax1.set_xticks([i + width * (len(methods) - 1) / 2 for i in range(len(groups))], labels, fontsize=7)
    ax1.set(ylabel="test accuracy", ylim=(0.5, 1.0), title="contrastive-hebbian vs backprop, same net")
    ax1.legend(fontsize=7)
    split = results.get("split", {})
    for d, (dataset, r) in enumerate(split.items()):
        for m, (method, s) in enumerate(r["methods"].items()):
            ax2.bar(d + m * 0.4, s["average_accuracy"], 0.4, color=f"C{m}", label=method if d == 0 else None)
    ax2.set_xticks([d + 0.2 for d in range(len(split))], [f"Split-{k}" for k in split])
    ax2.set(ylabel="average accuracy after the last task", ylim=(0, 1), title="continual learning (single head)")
    if split:
        ax2.legend(fontsize=7)
    # conv net on Fashion-MNIST per epoch: the whole rule (schedule section) vs its head alone on frozen random features
    for x in results.get("schedule", {}).get("rows", []):
        acc = x["test_accuracy_per_epoch"]
        ax3.plot(range(1, len(acc) + 1), acc, marker="o", label=f"rule, C's AdamW {x['variant']['meta_lr']:g}")
    for x in results.get("head", {}).get("rows", []):
        if x["weight_norm"] == "fan-out" and x.get("eta_decay", 1.0) != 1.0:
            acc = x["test_accuracy_per_epoch"]
            ax3.plot(range(1, len(acc) + 1), acc, ls="--", label=f"head alone, frozen random conv, C's {'meta' if x['meta_learned_c'] else '1'}")
    ax3.axhline(0.88, color="grey", lw=0.8, ls=":")
    ax3.set(xlabel="epoch", ylabel="test accuracy", ylim=(0.78, 0.9), title="conv net, fashion-mnist, η 3e-2 × 0.7^epoch")
    ax3.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120))
    plt.close(fig)


def main() -> None:
    parser = Parser(prog="bench_contrastive_hebbian.py", description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {', '.join(SECTIONS)}")
    parser.add_argument("--datasets", default="fashion-mnist,mnist5k", help="datasets of the linear and conv sections")
    parser.add_argument("--layers", default="2000,2000,2000,2000")
    parser.add_argument("--conv-blocks", default="1x28x28,c32k5p2,c64k3p2,500")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of the linear and conv sections")
    parser.add_argument("--bp-activations", default="tanh", help="backprop references: tanh (the rule's), relu or both")
    parser.add_argument("--ref-lrs", default="1e-4", help="Adam learning rates of the reference section")
    parser.add_argument("--split-datasets", default="mnist5k,fashion-mnist")
    parser.add_argument("--variant-dataset", default="mnist5k")
    parser.add_argument("--variant-epochs", type=int, default=3)
    parser.add_argument("--memory-dataset", default="mnist5k")
    parser.add_argument("--probe-dataset", default="fashion-mnist")
    parser.add_argument("--probe-layers", default="1000,1000")
    parser.add_argument("--probe-steps", type=int, default=400)
    parser.add_argument("--conv-probe-epochs", type=int, default=2)
    parser.add_argument("--head-blocks", default="1x28x28,c32k5p2,c64k3p2", help="frozen random feature net of the head section")
    parser.add_argument("--head-epochs", type=int, default=8)
    parser.add_argument("--schedule-blocks", default="1x28x28,c32k5p2,c64k3p2", help="net of the schedule section")
    parser.add_argument("--schedule-meta-lrs", default="0.03,0.003,0", help="AdamW rates of the C's in the schedule section")
    parser.add_argument("--schedule-epochs", type=int, default=6)
    parser.add_argument("--steps", type=int, default=20, help="training mini-batches measured per method (memory)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default="runs/bench-contrastive-hebbian", help="directory of the Split runs")
    parser.add_argument("--out", default=str(RESULTS / "contrastive_hebbian.json"))
    parser.add_argument("--print", action="store_true", help="only print the tables of the stored JSON")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    results = read_json(out, missing={})
    if not args.print:
        for section in args.sections.split(","):
            if section not in SECTIONS:
                parser.error(f"unknown section {section!r}; use {', '.join(SECTIONS)}")
            start = time.perf_counter()
            if section == "linear":
                results[section] = accuracy_section(args, {"layers": _ints(args.layers)})
            elif section == "conv":
                results[section] = accuracy_section(args, {"blocks": args.conv_blocks})
            elif section == "split":
                results[section] = {**results.get(section, {}), **split_section(args)}
            elif section == "variants":
                results[section] = variants_section(args)
            elif section == "reference":
                results[section] = reference_section(args)
            elif section == "probe":
                results[section] = probe_section(args)
            elif section == "conv-probe":
                results[section] = conv_probe_section(args)
            elif section == "head":
                results[section] = head_section(args)
            elif section == "schedule":
                results[section] = schedule_section(args, results.get(section, {}))
            else:
                results[section] = memory_section(args)
            results[section + "_wall_seconds"] = round(time.perf_counter() - start, 1)
            results["thesis"] = THESIS
            write_json(out, results)  # after every section, so a long run keeps what it measured
            plot(results, out.with_suffix(".png"))
    print(tables(results), end="")


if __name__ == "__main__":
    sys.exit(guarded(main))
