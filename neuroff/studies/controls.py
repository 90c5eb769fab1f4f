"""The controls a core-learner number is read against: the same architecture untrained, and the
same architecture trained by backprop, on the same validation split and test set.

- **Untrained**: the net ``engine.train`` starts from (``engine.create`` on the kept training
  samples, the run's seed), read two ways: by the run's own goodness read-out (what training
  added to the classifier) and by a linear read-out of its latents with a neutral label (what a
  random projection of this width already makes linearly separable; ``--readout linear``'s
  features and probe).
- **Backprop**: the run's hidden layers (``blocks_from_layers``: the same widths on the raw
  input, no label in it) with a linear softmax classifier, trained end to end by Adam on the kept
  training samples; the epoch is chosen on the validation split (``train_backprop`` keeps the
  weights of the best validation epoch), then the test set is read once.

Validation is the run's ``--validation N`` split (drawn with its seed), so a control and the run
it controls share their training samples, and seeds pair.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import torch

from neuroff import engine
from neuroff.data import Dataset
from neuroff.engine.readout import probe_predictions
from neuroff.errors import NeuroffError
from neuroff.layers.spec import blocks_from_layers
from neuroff.studies.baselines import accuracy, train_backprop

if TYPE_CHECKING:  # typing only: the run's options are the engine's
    from neuroff.engine.options import FFConfig


@dataclass(frozen=True)
class BackpropSettings:
    """How the backprop control trains: Adam at ``lr`` on mini-batches of ``batch_size`` for at most
    ``epochs`` epochs, stopping ``patience`` epochs after the best validation epoch (None: all)."""

    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-3
    patience: int | None = 5


def _splits(config: FFConfig, dataset: Dataset) -> tuple[Dataset, Dataset]:
    train_part, val_part = engine.split_dataset(config, dataset)
    if val_part is None:
        raise NeuroffError("a control is read on the run's validation split; give the run --validation N (e.g. 10000)")
    return train_part, val_part


def untrained_control(config: FFConfig, dataset: Dataset, read_test: bool = True, progress: bool = False) -> dict[str, Any]:
    """The untrained net of ``config``: {"goodness": {"validation", "test"}, "linear_readout":
    {"validation", "test"}, "seconds"} (accuracies as fractions; "test" only with ``read_test``).
    The linear read-out is fitted once on the kept training samples' latents and scores the
    validation and test samples with the same fit."""
    start = time.perf_counter()
    train_part, val_part = _splits(config, dataset)
    net = engine.create(config, train_part)
    goodness = {"validation": engine.evaluate(net, val_part.x_test, val_part.y_test, progress)}
    scored_x, scored_y = val_part.x_test, val_part.y_test
    if read_test:
        goodness["test"] = engine.evaluate(net, train_part.x_test, train_part.y_test, progress)
        scored_x, scored_y = torch.cat([scored_x, train_part.x_test]), torch.cat([scored_y, train_part.y_test])
    f_train = engine.readout_features(net, train_part.x_train, progress=progress, desc="training features")
    f_scored = engine.readout_features(net, scored_x, progress=progress, desc="scored features")
    c = config
    predicted, labels = probe_predictions(f_train, train_part.y_train, f_scored, scored_y, seed=c.seed, solver=c.probe,
                                          dropout=c.probe_dropout, epochs=c.probe_epochs)
    correct = predicted == labels
    n_val = len(val_part.x_test)
    readout = {"validation": float(correct[:n_val].mean())}
    if read_test:
        readout["test"] = float(correct[n_val:].mean())
    return {"goodness": goodness, "linear_readout": readout, "seconds": time.perf_counter() - start}


def backprop_control(
    config: FFConfig, dataset: Dataset, settings: BackpropSettings = BackpropSettings(), read_test: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Backprop on ``config``'s hidden layers, seeded with its seed: {"validation_accuracy" (per
    epoch), "best_epoch", "validation" (the best epoch's, whose weights are kept), "test" (only with
    ``read_test``), "settings", "seconds"}."""
    start = time.perf_counter()
    train_part, val_part = _splits(config, dataset)
    spec = blocks_from_layers(train_part.n_features, list(config.layers))
    result = train_backprop(spec, train_part.x_train, train_part.y_train, val_part.x_test, val_part.y_test,
                            train_part.n_classes, epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.lr,
                            seed=config.seed, patience=settings.patience, progress=progress)
    curve = [record["val_accuracy"] for record in result.history]
    out: dict[str, Any] = {"validation_accuracy": curve, "best_epoch": result.best_epoch,
                           "validation": curve[result.best_epoch - 1], "settings": asdict(settings)}
    if read_test:
        out["test"] = accuracy(result.model, train_part.x_test, train_part.y_test)
    out["seconds"] = time.perf_counter() - start
    return out
