"""The noisy-data robustness study of Integrated FF (Tang, 2023), as a library function.

The training split is cut, seeded, into four equal parts (sizes differ by at most one):

    clean        x unchanged
    gaussian     x + noise_std * N(0, 1)                    (clipped to [0, 1])
    dropped      k ~ U{0, ..., D} random pixels set to 0     (a new k per sample)
    pure-noise   0.5 + noise_std * N(0, 1), clipped, with a uniformly random label

A clean validation split (held out of the training split before corruption) chooses the epoch
(early stopping with ``patience``); the clean test split gives the reported accuracy. Methods,
all with the layer sizes of ``blocks``:

    intff        IntFF with the given blocks (neuroff.families.intff.model)
    ff           the core analog FF rule (neuroff.families.ff.analog_rule, its --head), dense only
    ff-softplus  IntFF with one-layer blocks: plain FF with IntFF's mean goodness and loss
    bp           backprop on the same layers plus a linear classifier (neuroff.studies.baselines)

With ``corrupt=False`` the same pipeline trains on the clean training split (the benchmark's
clean table).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from neuroff.data import Dataset, load_dataset, validation_split
from neuroff.engine.options import FFConfig
from neuroff.errors import NeuroffError
from neuroff.io import atomic_write, write_json
from neuroff.layers.spec import BlockSpec, Dense, format_blocks, parse_blocks
from neuroff.studies.baselines import accuracy, train_backprop
from neuroff.studies.early_stopping import EarlyStopping

CORRUPTIONS = ("clean", "gaussian", "dropped", "pure-noise")
METHODS = ("intff", "ff", "ff-softplus", "bp")
PAPER_BLOCKS = "784,(200,200,200),(50,50)"
# Tang (2023), MNIST: test accuracy (%) on clean and on the corrupted training set
PAPER_ACCURACY = {"clean": {"intff": 98.00, "ff": 94.48, "bp": 97.27}, "noisy": {"intff": 94.38, "ff": 90.78, "bp": 93.83}}


@dataclass
class StudySettings:
    dataset: str = "mnist5k"
    blocks: str = PAPER_BLOCKS
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    corrupt: bool = True
    noise_std: float = 0.5
    epochs: int = 20
    patience: int | None = 3
    batch_size: int = 64
    lr: float = 0.003
    bp_lr: float = 0.001
    threshold: float = 1.5
    head: str = "sym"
    embedding: str = "code"
    val_fraction: float = 0.1
    n_train: int | None = None
    n_test: int | None = None
    seed: int = 0
    normalize_first: bool = False  # IntFF (and FF with IntFF's loss): length-normalise block 0's input too, as the paper
    linear_readout: bool = False  # also score the FF methods by a logistic read-out on their latents (the paper's variant)

    def validate(self) -> "StudySettings":
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise NeuroffError(f"unknown method(s) {unknown or '(none)'}; use a comma list of {', '.join(METHODS)}")
        if self.noise_std < 0:
            raise NeuroffError(f"noise_std={self.noise_std} must be >= 0")
        if self.epochs < 1 or self.batch_size < 1:
            raise NeuroffError("epochs and batch_size must be >= 1")
        spec = parse_blocks(self.blocks)
        if spec.has_conv and "ff" in self.methods:
            raise NeuroffError("the core FF rule is dense-only; drop 'ff' from --methods for conv blocks")
        return self


def corrupt_training_set(
    x: torch.Tensor, y: torch.Tensor, n_classes: int, noise_std: float = 0.5, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x', y', kind): the four-way corruption of the module docstring; ``kind[i]`` indexes
    CORRUPTIONS. Inputs are not modified."""
    g = torch.Generator().manual_seed(seed)
    n, d = x.shape
    kind = torch.empty(n, dtype=torch.int64)
    kind[torch.randperm(n, generator=g)] = torch.arange(n) * len(CORRUPTIONS) // max(n, 1)
    x, y = x.clone(), y.clone()
    idx = (kind == 1).nonzero().squeeze(1)
    x[idx] = (x[idx] + noise_std * torch.randn((len(idx), d), generator=g)).clamp(0.0, 1.0)
    idx = (kind == 2).nonzero().squeeze(1)
    k = torch.randint(0, d + 1, (len(idx), 1), generator=g)
    rank = torch.rand((len(idx), d), generator=g).argsort(1).argsort(1)  # a random permutation per row
    x[idx] = torch.where(rank < k, torch.zeros(()), x[idx])
    idx = (kind == 3).nonzero().squeeze(1)
    x[idx] = (0.5 + noise_std * torch.randn((len(idx), d), generator=g)).clamp(0.0, 1.0)
    y[idx] = torch.randint(0, n_classes, (len(idx),), generator=g)
    return x, y, kind


def _one_layer_blocks(spec: BlockSpec) -> str:
    return format_blocks(BlockSpec(spec.input_shape, tuple((layer,) for layer in spec.layers)))


def _ff_config(settings: StudySettings, method: str, spec: BlockSpec) -> FFConfig:
    common = dict(
        mode="analog", dataset=settings.dataset, epochs=settings.epochs, batch_size=settings.batch_size,
        analog_lr=settings.lr, seed=settings.seed, embedding=settings.embedding,
    )
    if method == "ff":  # the FF head; IntFF's blocks have their own threshold loss
        return FFConfig(rule="ff", head=settings.head, layers=[layer.units for layer in spec.layers if isinstance(layer, Dense)], **common)
    blocks = settings.blocks if method == "intff" else _one_layer_blocks(spec)
    return FFConfig(rule="intff", blocks=blocks, intff_threshold=settings.threshold, intff_normalize_first=settings.normalize_first,
                    **common)  # fmt: skip


def _train_ff(settings: StudySettings, method: str, spec: BlockSpec, train: Dataset, test: Dataset, progress: bool) -> dict[str, Any]:
    from neuroff import engine  # deferred: engine imports every family

    stopper = EarlyStopping(settings.patience)

    def on_epoch(trained: engine.Trained) -> bool:
        record = trained.history[-1]  # its "test_accuracy" is on the clean validation split here
        return stopper.update(record["test_accuracy"], record["epoch"], trained.model)

    config = _ff_config(settings, method, spec)
    trained = engine.train(config, dataset=train, progress=progress, on_epoch=on_epoch)
    stopper.restore(trained.model)
    history = [
        {"epoch": r["epoch"], "train_seconds": r["train_seconds"], "val_accuracy": r["test_accuracy"]} for r in trained.history
    ]
    summary = _summary(engine.evaluate(trained, test.x_test, test.y_test), stopper.best_epoch, history, config.to_dict())
    if settings.linear_readout:  # fitted on the training data the method saw (corrupted, if it was), tested on clean test data
        seen = Dataset(train.name, train.x_train, train.y_train, test.x_test, test.y_test, train.image_shape, train.n_classes)
        summary["linear_readout_accuracy"] = engine.readout_accuracy(trained, seen)
    return summary


def _train_bp(settings: StudySettings, spec: BlockSpec, train: Dataset, test: Dataset, progress: bool) -> dict[str, Any]:
    result = train_backprop(
        spec, train.x_train, train.y_train, train.x_test, train.y_test, train.n_classes, settings.epochs,
        settings.batch_size, settings.bp_lr, settings.seed, settings.patience, progress,
    )
    return _summary(accuracy(result.model, test.x_test, test.y_test), result.best_epoch, result.history, None)


def _summary(test_acc: float, best_epoch: int, history: list[dict[str, Any]], config: dict | None) -> dict[str, Any]:
    seconds = [r["train_seconds"] for r in history]
    return {
        "test_accuracy": test_acc,
        "best_epoch": best_epoch,
        "best_val_accuracy": max(r["val_accuracy"] for r in history),
        "epochs_run": len(history),
        "seconds_per_epoch": sum(seconds) / len(seconds),
        "history": history,
        "config": config,
    }


def run_study(settings: StudySettings, out_dir: str | Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Train every method of ``settings`` on the (corrupted) training split with early stopping
    on clean validation data; returns the results and, with ``out_dir``, writes
    ``robustness.json`` and ``robustness.png`` there."""
    settings.validate()
    spec = parse_blocks(settings.blocks)
    ds = load_dataset(settings.dataset, seed=settings.seed).subset(settings.n_train, settings.n_test)
    if spec.n_inputs != ds.n_features:
        raise NeuroffError(
            f"--blocks {settings.blocks} starts with {spec.n_inputs} inputs but {ds.name} has {ds.n_features}; "
            f"start it with {ds.n_features}"
        )
    kept, val = validation_split(ds, settings.val_fraction, settings.seed)
    x, y = kept.x_train, kept.y_train
    counts = {"clean": len(x)}
    if settings.corrupt:
        x, y, kind = corrupt_training_set(x, y, ds.n_classes, settings.noise_std, settings.seed)
        counts = {name: int((kind == i).sum()) for i, name in enumerate(CORRUPTIONS)}
    # the engine evaluates its dataset's test split after every epoch: give it the validation split
    train = Dataset(f"{ds.name}/{'noisy' if settings.corrupt else 'clean'}", x, y, val.x_test, val.y_test, ds.image_shape, ds.n_classes)
    results: dict[str, Any] = {}
    for method in settings.methods:
        if progress:
            print(
                f"[{method}] training on {train.name}, early stopping on {len(val.x_test)} clean validation samples "
                "(the per-epoch 'test accuracy' below is on them)"
            )
        if method == "bp":
            results[method] = _train_bp(settings, spec, train, kept, progress)
        else:
            results[method] = _train_ff(settings, method, spec, train, kept, progress)
    report = {
        "settings": dataclasses.asdict(settings),
        "dataset": ds.name,
        "n_train": len(x),
        "n_val": len(val.x_test),
        "n_test": len(kept.x_test),
        "training_set": counts,
        "methods": results,
        "paper_mnist": PAPER_ACCURACY["noisy" if settings.corrupt else "clean"],
    }
    if out_dir is not None:
        out = Path(out_dir)
        write_json(out / "robustness.json", report)
        plot_study(report, out / "robustness.png")
    return report


def format_table(report: dict[str, Any]) -> str:
    s = report["settings"]
    counts = ", ".join(f"{v} {k}" for k, v in report["training_set"].items())
    lines = [
        f"{report['dataset']}, blocks {s['blocks']}: train {report['n_train']} ({counts}), "
        f"clean validation {report['n_val']}, clean test {report['n_test']}",
        f"{'method':<12} {'test acc':>9} {'best val':>9} {'best epoch':>10} {'epochs':>7} {'s/epoch':>8} {'paper (MNIST)':>14}",
    ]
    for name, r in report["methods"].items():
        paper = report["paper_mnist"].get(name)
        lines.append(
            f"{name:<12} {100 * r['test_accuracy']:>8.2f}% {100 * r['best_val_accuracy']:>8.2f}% {r['best_epoch']:>10d} "
            f"{r['epochs_run']:>7d} {r['seconds_per_epoch']:>8.2f} {f'{paper:.2f}%' if paper else '-':>14}"
        )
    return "\n".join(lines)


def plot_study(report: dict[str, Any], path: str | Path) -> Path:
    """Bar plot of clean-test accuracy per method (with the paper's MNIST figures where it has one)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["methods"])
    ours = [100 * report["methods"][n]["test_accuracy"] for n in names]
    paper = [report["paper_mnist"].get(n, math.nan) for n in names]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    pos = torch.arange(len(names)).tolist()
    ax.bar([p - 0.2 for p in pos], ours, width=0.4, label=f"neuroff, {report['dataset']}")
    ax.bar([p + 0.2 for p in pos], paper, width=0.4, label="Tang 2023, MNIST", alpha=0.6)
    for p, v in zip(pos, ours):
        ax.text(p - 0.2, v + 0.5, f"{v:.1f}", ha="center", fontsize=8)
    ax.set_xticks(pos, names)
    ax.set_ylabel("clean test accuracy (%)")
    ax.set_ylim(max(0.0, min(ours) - 15), 100)
    kind = "corrupted" if report["settings"]["corrupt"] else "clean"
    ax.set_title(f"training on the {kind} {report['dataset']} training set")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()

    def write(f: Any) -> None:
        fig.savefig(f, format="png", dpi=120)

    atomic_write(path, write)
    plt.close(fig)
    return Path(path)
