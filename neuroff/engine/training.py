"""The one training/evaluation loop. It streams positive/negative pairs in chunks to a rule and
never knows which rule it runs; the rule decides how a chunk changes the weights (online
batch-1 updates, mini-batches, per-layer optimisers)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm import tqdm

from neuroff import __version__
from neuroff.engine.checkpoint import load_checkpoint, save_checkpoint
from neuroff.config import FFConfig
from neuroff.data import Dataset, load_dataset
from neuroff.data.pairing import LabelEmbedding, make_label_embedding, wrong_labels
from neuroff.errors import NeuroffError
from neuroff.io import write_json
from neuroff.families.registry import build_model_and_rule
from neuroff.families.ff.model import AnalogFFNet
from neuroff.layers.lif_stack import SpikingFFNet
from neuroff.engine.readout import linear_probe

EVAL_SEED_OFFSET = 1_000_003


class Rule(Protocol):
    """What the engine needs of a rule. Rules that support ``lr_decay`` also define
    ``set_lr_scale(scale)``; rules with optimiser state define ``state_dict``/``load_state_dict``;
    rules with ``uses_labels = True`` are called ``step(..., labels=y)`` with the true labels."""

    name: str

    def step(self, model: Any, x_pos: torch.Tensor, x_neg: torch.Tensor, generator: torch.Generator) -> dict[str, float]:
        ...


@dataclass
class Trained:
    """A model with everything needed to use, evaluate, resume or export it."""

    config: FFConfig
    model: SpikingFFNet | AnalogFFNet
    embedding: LabelEmbedding
    rule: Rule
    generator: torch.Generator
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def create(config: FFConfig, dataset: Dataset) -> Trained:
    """A fresh, seeded model for ``dataset``."""
    config.validate()
    generator = torch.Generator().manual_seed(config.seed)
    embedding = make_label_embedding(config.embedding, dataset.n_classes, config.code_bits, config.code_p, config.seed)
    if config.embedding == "onehot" and dataset.n_features < dataset.n_classes:
        raise NeuroffError(f"onehot embedding needs at least {dataset.n_classes} input features")
    model, rule = build_model_and_rule(config, dataset.n_features + embedding.extra_features, generator, dataset.n_classes)
    return Trained(config, model, embedding, rule, generator)


def prepare_dataset(config: FFConfig, dataset: Dataset | None = None) -> Dataset:
    ds = dataset if dataset is not None else load_dataset(config.dataset, seed=config.seed)
    return ds.subset(config.n_train, config.n_test)


@torch.no_grad()
def candidate_scores(trained: Trained, x: torch.Tensor, batch: int = 250, seed: int | None = None) -> torch.Tensor:
    """[N, C] score of every candidate label (all candidates of a sample run as one batch)."""
    g = torch.Generator().manual_seed(trained.config.seed + EVAL_SEED_OFFSET if seed is None else seed)
    repeats = trained.config.eval_repeats
    out = [
        sum(trained.model.candidate_scores(trained.embedding.embed_all(x[i : i + batch]), g) for _ in range(repeats)) / repeats
        for i in range(0, len(x), batch)
    ]
    return torch.cat(out) if out else torch.zeros(0, trained.embedding.n_classes)


def check_features(trained: Trained, x: torch.Tensor) -> None:
    if x.shape[1] + trained.embedding.extra_features != trained.model.sizes[0]:
        raise NeuroffError(
            f"the model expects {trained.model.sizes[0] - trained.embedding.extra_features} input features, "
            f"the data has {x.shape[1]}; evaluate on the dataset it was trained on"
        )


def evaluate(trained: Trained, x: torch.Tensor, y: torch.Tensor) -> float:
    """Goodness-argmax test accuracy."""
    check_features(trained, x)
    if len(x) == 0:
        return float("nan")
    return float((candidate_scores(trained, x).argmax(1) == y).float().mean())


@torch.no_grad()
def readout_features(trained: Trained, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """All layers' latents, concatenated, of the samples with a neutral label embedded
    (spiking: spike counts; analog: ReLU activity): the input of the linear read-out."""
    g = torch.Generator().manual_seed(trained.config.seed + EVAL_SEED_OFFSET)
    rows = []
    for i in range(0, len(x), batch):
        latents = trained.model.latents(trained.embedding.embed_neutral(x[i : i + batch]), g)
        rows.append(torch.cat([z.float() for z in next(iter(latents.values()))], dim=1))
    return torch.cat(rows)


def readout_accuracy(trained: Trained, ds: Dataset) -> float:
    """Test accuracy of a linear (logistic-regression) read-out trained on the training latents."""
    check_features(trained, ds.x_test)
    f_train, f_test = readout_features(trained, ds.x_train), readout_features(trained, ds.x_test)
    c = trained.config
    return linear_probe(f_train, ds.y_train, f_test, ds.y_test, seed=c.seed, solver=c.probe, dropout=c.probe_dropout, epochs=c.probe_epochs)


def test_accuracy(trained: Trained, ds: Dataset) -> float:
    """The accuracy a run reports: goodness-argmax (``evaluate``), or, for a model that never
    sees labels (``model.label_free``, e.g. SCFF), the linear read-out of its features
    (``readout_accuracy``), since it has no label to score."""
    if getattr(trained.model, "label_free", False):
        return readout_accuracy(trained, ds)
    return evaluate(trained, ds.x_test, ds.y_test)


def check_finite(trained: Trained) -> None:
    for i, w in enumerate(trained.model.weights):
        if not torch.isfinite(w).all():
            raise NeuroffError(
                f"layer {i} weights became non-finite during training; lower the learning rate (--lr / --analog-lr)"
            )


def train(
    config: FFConfig,
    out_dir: str | Path | None = None,
    dataset: Dataset | None = None,
    resume: str | Path | None = None,
    progress: bool = True,
    on_epoch: Callable[[Trained], bool] | None = None,
) -> Trained:
    """Train for ``config.epochs`` epochs (continuing a checkpoint when ``resume`` is given);
    writes ``model.pt`` and ``metrics.json`` to ``out_dir`` after every epoch. ``on_epoch``, if
    given, is called after every epoch (its record is ``trained.history[-1]``) and stops training
    by returning True (early stopping; see ``neuroff.studies.robustness``)."""
    if resume is not None:
        trained = load_trained(resume, epochs=config.epochs)
        config = trained.config
    ds = prepare_dataset(config, dataset)
    if resume is None:
        trained = create(config, ds)
    n, c = len(ds.x_train), ds.n_classes
    for epoch in range(trained.epoch, config.epochs):
        start = time.perf_counter()
        _set_lr_scale(trained.rule, config.lr_decay**epoch)
        if hasattr(trained.rule, "start_epoch"):  # rules with a per-epoch schedule (SCFF: which layer trains)
            trained.rule.start_epoch(epoch)
        order = torch.randperm(n, generator=trained.generator)
        pairs = correct = 0.0
        bar = tqdm(total=n, unit="sample", desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, leave=False)
        for lo in range(0, n, config.chunk):
            idx = order[lo : lo + config.chunk]
            x, y = ds.x_train[idx], ds.y_train[idx]
            y_neg = wrong_labels(y, c, trained.generator)
            x_pos, x_neg = trained.embedding.embed(x, y), trained.embedding.embed(x, y_neg)
            if getattr(trained.rule, "uses_labels", False):  # supervised rules (contrastive-hebbian) get the labels too
                stats = trained.rule.step(trained.model, x_pos, x_neg, trained.generator, labels=y)
            else:
                stats = trained.rule.step(trained.model, x_pos, x_neg, trained.generator)
            check_finite(trained)
            pairs += stats["pairs"]
            correct += stats["pair_correct"]
            bar.update(len(idx))
            bar.set_postfix(pair_acc=f"{correct / pairs:.3f}")
        bar.close()
        seconds = time.perf_counter() - start
        due = (epoch + 1) % config.eval_every == 0 or epoch + 1 == config.epochs
        test_acc = test_accuracy(trained, ds) if due else float("nan")
        record = {
            "epoch": epoch + 1,
            "train_seconds": round(seconds, 3),
            "samples_per_s": round(n / seconds, 1) if seconds > 0 else math.inf,
            "train_pair_accuracy": correct / max(pairs, 1),
            "test_accuracy": test_acc,
        }
        trained.history.append(record)
        trained.epoch = epoch + 1
        if progress:
            print(
                f"epoch {epoch + 1}: {record['samples_per_s']:.0f} samples/s, "
                f"train pair accuracy {record['train_pair_accuracy']:.4f}, test accuracy {test_acc:.4f}"
            )
        if out_dir is not None:
            save_trained(trained, Path(out_dir) / "model.pt")
            write_json(Path(out_dir) / "metrics.json", {"config": config.to_dict(), "epochs": trained.history})
        if on_epoch is not None and on_epoch(trained):
            break
    return trained


def _set_lr_scale(rule: Rule, scale: float) -> None:
    if hasattr(rule, "set_lr_scale"):
        rule.set_lr_scale(scale)
    elif scale != 1.0:
        raise NeuroffError(f"rule {rule.name} does not support lr_decay; leave --lr-decay at 1")


def save_trained(trained: Trained, path: str | Path) -> Path:
    rule_state = trained.rule.state_dict() if hasattr(trained.rule, "state_dict") else {}
    return save_checkpoint(
        path,
        {
            "config": trained.config.to_dict(),
            "mode": trained.config.mode,
            "sizes": list(trained.model.sizes),
            "state_dict": trained.model.state_dict(),
            "label_embedding": {"kind": trained.embedding.kind, "codes": trained.embedding.codes},
            "rule_state": rule_state,
            "generator_state": trained.generator.get_state(),
            "epoch": trained.epoch,
            "metrics": trained.history,
        },
    )


def load_trained(path: str | Path, epochs: int | None = None) -> Trained:
    """Rebuild a Trained from a checkpoint; ``epochs`` raises the target epoch count for resuming."""
    data = load_checkpoint(path)
    try:
        config = FFConfig.from_dict(dict(data["config"]))
        if epochs is not None:
            config.epochs = epochs
        config.validate()
        emb = data["label_embedding"]
        embedding = LabelEmbedding(emb["kind"], emb["codes"].shape[0], emb["codes"])
        generator = torch.Generator()
        model, rule = build_model_and_rule(config, int(data["sizes"][0]), generator, int(emb["codes"].shape[0]))
        model.load_state_dict(data["state_dict"])
        generator.set_state(data["generator_state"])
        if data.get("rule_state") and hasattr(rule, "load_state_dict"):
            rule.load_state_dict(data["rule_state"])
        epoch, history = int(data["epoch"]), list(data["metrics"])
    except NeuroffError:
        raise
    except (KeyError, TypeError, RuntimeError, ValueError, AttributeError, IndexError) as err:
        raise NeuroffError(f"checkpoint {path} is incomplete or from another version ({type(err).__name__}: {str(err)[:100]})") from None
    return Trained(config, model, embedding, rule, generator, epoch, history)


def checkpoint_info(path: str | Path) -> dict[str, Any]:
    data = load_checkpoint(path)
    return {
        "neuroff_version": data.get("neuroff_version"),
        "current_version": __version__,
        "mode": data.get("mode"),
        "sizes": data.get("sizes"),
        "epoch": data.get("epoch"),
        "config": data.get("config"),
        "metrics": data.get("metrics"),
    }
