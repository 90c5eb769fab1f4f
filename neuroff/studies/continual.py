"""Continual learning on Split datasets (class-incremental, single head), for any rule family.

The dataset is split into tasks by class pairs (0/1, 2/3, 4/5, 6/7, 8/9); the tasks are trained
in sequence, ``epochs`` epochs each, and after every task the model is tested on the test
samples of every task. The network keeps one head over all classes (no task id at test time),
so a model that forgets predicts only the latest pair.

A neuroff rule runs through the engine unchanged: task k is epoch(s) k of one run whose
training set changes, resumed from task k − 1's checkpoint (``engine.train(..., resume=...)``),
so rule state (optimisers, pending updates) carries over exactly as within one run. Plain
backprop on the same layers (``neuroff.studies.baselines``, Adam, a fresh optimiser per task) is the
reference; its activation is the rule's (tanh for contrastive-hebbian by default) so the
architecture is the same. Its default learning rate is 1e-4: at Adam's usual 1e-3 a fresh 4×2000
net learns task 0/1 and then dies within the ~13 mini-batches of mnist5k's task 2/3 (constant
output, loss > 2 on every later task), which measured the optimiser, not forgetting.

R[i][j] = test accuracy on task j after training task i; the report gives R, the last row (the
accuracy on every task after the last one) and its mean (the average accuracy).

Two scores per task (van de Ven & Tolias's scenarios): class-incremental, the argmax over all
classes (no task id at test time: the protocol above), and task-incremental, the argmax over the
task's own two classes only (the task id given at test time: a net that keeps its features but
whose head favours the latest pair still scores). Which one a paper reports decides what its
Split numbers mean: plain fine-tuning scores about 1/5 class-incrementally on Split-MNIST.

Bounds (``joint=True``): the same rule and the same backprop net trained once on all tasks
together, ``epochs`` epochs (each sample is seen as often as in the sequence), tested on every
task: the joint-training upper bound. Backprop trained task after task with nothing against
forgetting is the naive fine-tuning lower bound.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from neuroff import engine
from neuroff.data import Dataset, load_dataset
from neuroff.engine.options import FFConfig
from neuroff.errors import NeuroffError
from neuroff.families.base import Readout
from neuroff.io import atomic_write, write_json
from neuroff.layers.spec import BlockSpec, blocks_from_layers, parse_blocks
from neuroff.studies.baselines import train_backprop

SPLIT_PAIRS: tuple[tuple[int, ...], ...] = ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))


def split_tasks(ds: Dataset, groups: tuple[tuple[int, ...], ...] = SPLIT_PAIRS) -> list[Dataset]:
    """One Dataset per class group, holding only that group's samples; ``n_classes`` stays the
    full count (single head)."""
    tasks = []
    for group in groups:
        if any(not 0 <= c < ds.n_classes for c in group):
            raise NeuroffError(f"task classes {group} out of range for {ds.n_classes} classes")
        classes = torch.tensor(group)
        tr, te = torch.isin(ds.y_train, classes), torch.isin(ds.y_test, classes)
        if not tr.any() or not te.any():
            raise NeuroffError(f"task {group} has no training or test samples in {ds.name}; use more data (--n-train/--n-test)")
        name = f"{ds.name}[{'/'.join(map(str, group))}]"
        tasks.append(Dataset(name, ds.x_train[tr], ds.y_train[tr], ds.x_test[te], ds.y_test[te], ds.image_shape, ds.n_classes))
    return tasks


def summarise(matrix: list[list[float]], task_matrix: list[list[float]] | None = None) -> dict[str, Any]:
    final = matrix[-1]
    out = {"accuracy_matrix": matrix, "final_accuracy": final, "average_accuracy": sum(final) / len(final)}
    if task_matrix is not None:
        out |= {"task_aware_matrix": task_matrix, "task_aware_final_accuracy": task_matrix[-1],
                "task_aware_average_accuracy": sum(task_matrix[-1]) / len(task_matrix[-1])}  # fmt: skip
    return out


def split_accuracies(scores: torch.Tensor, y: torch.Tensor, group: tuple[int, ...]) -> tuple[float, float]:
    """(class-incremental, task-incremental) accuracy of scores [N, C] on a task's samples: the
    argmax over all classes, and the argmax over the task's own classes only."""
    if len(y) == 0:
        return float("nan"), float("nan")
    classes = torch.tensor(group)
    within = classes[scores[:, classes].argmax(1)]
    return float((scores.argmax(1) == y).float().mean()), float((within == y).float().mean())


def _rows(scores_of: Any, tasks: list[Dataset], groups: tuple[tuple[int, ...], ...]) -> tuple[list[float], list[float]]:
    pairs = [split_accuracies(scores_of(t.x_test), t.y_test, g) for t, g in zip(tasks, groups)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def continual_rule(
    config: FFConfig, tasks: list[Dataset], work_dir: Path, progress: bool = True, groups: tuple[tuple[int, ...], ...] = SPLIT_PAIRS
) -> tuple[list[list[float]], list[list[float]]]:
    """R (class-incremental) and its task-incremental twin for a neuroff rule: the tasks as
    consecutive epochs of one resumed engine run; each task's checkpoint stays in ``work_dir/task<k>``."""
    if config.family.readout is Readout.PROBE:
        raise NeuroffError(f"rule {config.rule} learns no classifier; the continual protocol needs one")
    matrix, task_matrix, per_task = [], [], config.epochs
    for k, task in enumerate(tasks):
        cfg = dataclasses.replace(config, epochs=(k + 1) * per_task, n_train=None, n_test=None)
        resume = work_dir / f"task{k - 1}" / "model.pt" if k else None
        trained = engine.train(cfg, out_dir=work_dir / f"task{k}", dataset=task, resume=resume, progress=progress)
        row, task_row = _rows(lambda x, t=trained: engine.candidate_scores(t, x), tasks, groups)
        matrix.append(row)
        task_matrix.append(task_row)
    return matrix, task_matrix


def continual_backprop(
    spec: BlockSpec,
    tasks: list[Dataset],
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    progress: bool = True,
    activation: str = "relu",
    dropout: float = 0.0,
    groups: tuple[tuple[int, ...], ...] = SPLIT_PAIRS,
) -> tuple[list[list[float]], list[list[float]]]:
    """R (and its task-incremental twin) for plain backprop (Adam, cross-entropy over all
    classes) on the same layers, one net trained task after task (no validation split, so no
    early stopping)."""
    matrix, task_matrix, model = [], [], None
    empty_x, empty_y = torch.zeros(0, spec.n_inputs), torch.zeros(0, dtype=torch.int64)
    for k, task in enumerate(tasks):
        result = train_backprop(spec, task.x_train, task.y_train, empty_x, empty_y, task.n_classes, epochs=epochs,
                                batch_size=batch_size, lr=lr, seed=seed + k, progress=progress, model=model,
                                activation=activation, dropout=dropout)  # fmt: skip
        model = result.model
        row, task_row = _rows(_logits_of(model), tasks, groups)
        matrix.append(row)
        task_matrix.append(task_row)
    return matrix, task_matrix


def _logits_of(model: Any) -> Any:
    def logits(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([model(x[i : i + 1000]) for i in range(0, len(x), 1000)]) if len(x) else torch.zeros(0, 1)

    return logits


def joint_rule(
    config: FFConfig, ds: Dataset, tasks: list[Dataset], work_dir: Path, progress: bool = True,
    groups: tuple[tuple[int, ...], ...] = SPLIT_PAIRS,
) -> tuple[list[float], list[float]]:  # fmt: skip
    """The rule trained on all tasks at once (``config.epochs`` epochs), its (class-, task-incremental) accuracy on each task."""
    cfg = dataclasses.replace(config, n_train=None, n_test=None)
    trained = engine.train(cfg, out_dir=work_dir, dataset=ds, progress=progress)
    return _rows(lambda x: engine.candidate_scores(trained, x), tasks, groups)


def joint_backprop(
    spec: BlockSpec, ds: Dataset, tasks: list[Dataset], epochs: int, batch_size: int, lr: float, seed: int,
    progress: bool = True, activation: str = "relu", dropout: float = 0.0, groups: tuple[tuple[int, ...], ...] = SPLIT_PAIRS,
) -> tuple[list[float], list[float]]:  # fmt: skip
    """Backprop on the same layers trained on all tasks at once, its (class-, task-incremental) accuracy on each task."""
    empty_x, empty_y = torch.zeros(0, spec.n_inputs), torch.zeros(0, dtype=torch.int64)
    model = train_backprop(spec, ds.x_train, ds.y_train, empty_x, empty_y, ds.n_classes, epochs=epochs, batch_size=batch_size,
                           lr=lr, seed=seed, progress=progress, activation=activation, dropout=dropout).model  # fmt: skip
    return _rows(_logits_of(model), tasks, groups)


def network_spec(config: FFConfig, n_features: int) -> BlockSpec:
    """The hidden layers of a config (--blocks, or --layers as dense layers) for the backprop net."""
    return parse_blocks(config.blocks) if config.blocks is not None else blocks_from_layers(n_features, config.layers)


def run_continual(
    config: FFConfig,
    out_dir: str | Path,
    backprop: bool = True,
    bp_lr: float = 1e-4,
    progress: bool = True,
    bp_activation: str | None = None,
    bp_dropout: float | None = None,
    joint: bool = False,
) -> dict[str, Any]:
    """Split-``config.dataset`` for ``config.rule`` (and backprop on the same layers; with
    ``joint`` also both trained on all tasks at once, the upper bound); writes continual.json and
    continual.png to ``out_dir`` and returns the report. ``bp_dropout`` defaults to the rule's
    --ch-dropout for contrastive-hebbian (the same protocol), else 0."""
    config.validate()
    if bp_dropout is not None and not 0.0 <= bp_dropout < 1.0:  # before any training
        raise NeuroffError(f"--bp-dropout {bp_dropout} must lie in [0, 1), e.g. --bp-dropout 0.3")
    out = Path(out_dir)
    ds = load_dataset(config.dataset, seed=config.seed).subset(config.n_train, config.n_test)
    tasks = split_tasks(ds)
    report: dict[str, Any] = {
        "dataset": ds.name,
        "tasks": [list(g) for g in SPLIT_PAIRS],
        "epochs_per_task": config.epochs,
        "config": config.to_dict(),
        "methods": {config.rule: summarise(*continual_rule(config, tasks, out / "runs", progress))},
    }
    if joint:
        row, task_row = joint_rule(config, ds, tasks, out / "runs" / "joint", progress)
        report["methods"][f"{config.rule} joint"] = summarise([row], [task_row])
    if backprop:
        spec = network_spec(config, ds.n_features)
        ch = config.rule == "contrastive-hebbian"
        act = bp_activation or (config.ch_activation if ch else "relu")
        drop = bp_dropout if bp_dropout is not None else (config.ch_dropout if ch else 0.0)
        report["methods"]["backprop"] = summarise(*continual_backprop(spec, tasks, config.epochs, config.batch_size, bp_lr, config.seed,
                                                                      progress, act, drop))  # fmt: skip
        if joint:
            row, task_row = joint_backprop(spec, ds, tasks, config.epochs, config.batch_size, bp_lr, config.seed, progress, act, drop)
            report["methods"]["backprop joint"] = summarise([row], [task_row])
        report["backprop_lr"], report["backprop_activation"], report["backprop_dropout"] = bp_lr, act, drop
    write_json(out / "continual.json", report)
    plot_continual(report, out / "continual.png")
    return report


def format_report(report: dict[str, Any]) -> str:
    names = [f"{'/'.join(map(str, g))}" for g in report["tasks"]]
    lines = [f"Split-{report['dataset']}: accuracy on every task after the last one (class-incremental; task-incremental average)", "",
             "| method | " + " | ".join(names) + " | average | task-incremental average |", "|---" * (len(names) + 3) + "|"]  # fmt: skip
    for method, r in report["methods"].items():
        cells = " | ".join(f"{a:.3f}" for a in r["final_accuracy"])
        task = f"{r['task_aware_average_accuracy']:.3f}" if "task_aware_average_accuracy" in r else "–"
        lines.append(f"| {method} | {cells} | {r['average_accuracy']:.3f} | {task} |")
    return "\n".join(lines) + "\n"


def plot_continual(report: dict[str, Any], path: Path) -> None:
    """Left: accuracy on every task after the last one; right: the average accuracy over the
    tasks seen so far, after each task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["/".join(map(str, g)) for g in report["tasks"]]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    width = 0.8 / max(len(report["methods"]), 1)
    for m, (method, r) in enumerate(report["methods"].items()):
        ax1.bar([i + m * width for i in range(len(names))], r["final_accuracy"], width, label=f"{method} (avg {r['average_accuracy']:.3f})")
        seen = [sum(row[: k + 1]) / (k + 1) for k, row in enumerate(r["accuracy_matrix"])]
        ax2.plot(range(1, len(seen) + 1), seen, marker="o", label=method)
    ax1.set_xticks([i + width * (len(report["methods"]) - 1) / 2 for i in range(len(names))], names)
    ax1.set(xlabel="task (classes)", ylabel="test accuracy after the last task", ylim=(0, 1), title=f"Split-{report['dataset']}")
    ax2.set(xlabel="tasks trained", ylabel="average accuracy on the tasks seen", ylim=(0, 1))
    ax2.set_xticks(range(1, len(names) + 1))  # whole tasks, not 1.5
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8)
    fig.tight_layout()

    def write(f: Any) -> None:
        fig.savefig(f, format="png", dpi=120)

    atomic_write(path, write)
    plt.close(fig)
