"""Per-layer linear probes: how much linearly decodable label information each layer of a network
carries, after training and at its random initialisation.

A family that never sees labels (SCFF) is judged by such a probe, and so is any question of the
kind "are this rule's hidden features better than random ones, or than backprop's?". The probe is
``neuroff.engine.readout.linear_probe`` (the one implementation); this module extracts the
features of every layer of any trained model and feeds them to it, one layer at a time and all
layers concatenated.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from neuroff import engine
from neuroff.data import Dataset
from neuroff.engine.readout import linear_probe
from neuroff.errors import NeuroffError
from neuroff.families.contrastive_hebbian.model import (
    ContrastiveHebbianNet,
    contrastive_loss,
    pair_masks,
)
from neuroff.studies.baselines import BackpropNet, train_backprop
from neuroff.studies.continual import network_spec

if TYPE_CHECKING:  # typing only: the run's options are the engine's
    from neuroff.engine.options import FFConfig

FEATURE_BATCH = 500  # samples per forward pass: a conv net's feature maps of 60k samples at once would not fit in memory
TEST_SEED_STEP = 1  # the test split's features are drawn with the training split's seed + 1: independent spike noise


def every_layer_view(model: Any) -> Any:
    """``model``, or, for a model that reads out only some of its layers (``probe_layers``: SCFF's
    --score-layers), a shallow copy that reads out every layer. The copy shares the weights; the
    caller's model is left as it is (no attribute is patched and restored)."""
    if not hasattr(model, "probe_layers"):
        return model
    view = copy.copy(model)
    view.probe_layers = list(range(model.n_layers))
    return view


@torch.no_grad()
def layer_features(
    trained: engine.Trained, x: torch.Tensor, seed: int | None = None, layers: list[int] | None = None, batch: int = FEATURE_BATCH
) -> list[torch.Tensor]:
    """Every layer's latents of the samples ``x`` [N, D]: one float tensor [N, features of layer i]
    per layer, in order. The latents are the first kind the model reports (spike counts of a
    spiking net, activations of an analog one, pooled feature maps of an SCFF conv layer), for the
    samples with a neutral label embedded, as the engine's own read-out sees them
    (``engine.readout_features``, which concatenates the layers). ``seed`` seeds a stochastic
    model's input encoding (default: the engine's evaluation seed). ``layers`` keeps only those
    layers (indices, -1 the last; default all): the others are computed batch by batch but never
    held for all samples at once."""
    if len(x) == 0:
        raise NeuroffError("no samples to compute features of; pass at least one sample")
    model = every_layer_view(trained.model)
    g = torch.Generator().manual_seed(trained.config.seed + engine.EVAL_SEED_OFFSET if seed is None else seed)
    parts = []
    for i in range(0, len(x), batch):
        latents = next(iter(model.latents(trained.embedding.embed_neutral(x[i : i + batch]), g).values()))
        if layers is not None and any(not -len(latents) <= k < len(latents) for k in layers):
            raise NeuroffError(f"layers {layers} out of range for a model with {len(latents)} read-out layers")
        parts.append(latents if layers is None else [latents[k] for k in layers])
    return [torch.cat(layer).float() for layer in zip(*parts)]


@dataclass(frozen=True)
class ProbeAccuracies:
    """Test accuracy of a linear probe on every layer alone (``per_layer[i]``: layer i) and on all
    layers concatenated (``combined``; None when not asked for or with one layer only)."""

    per_layer: list[float]
    combined: float | None = None


def probe_accuracies(
    trained: engine.Trained,
    ds: Dataset,
    combined: bool = False,
    solver: str | None = None,
    dropout: float | None = None,
    epochs: int | None = None,
) -> ProbeAccuracies:
    """``linear_probe`` of every layer of ``trained``: trained on the features of ``ds``'s
    training split, tested on its test split. ``solver``, ``dropout`` and ``epochs`` are the
    probe's (see ``linear_probe``); each left at None is the run's own (--probe,
    --probe-dropout, --probe-epochs). ``combined`` adds the probe of all layers concatenated."""
    c = trained.config
    settings = {
        "solver": c.probe if solver is None else solver,
        "dropout": c.probe_dropout if dropout is None else dropout,
        "epochs": c.probe_epochs if epochs is None else epochs,
    }
    seed = c.seed + engine.EVAL_SEED_OFFSET
    f_train = layer_features(trained, ds.x_train, seed)
    f_test = layer_features(trained, ds.x_test, seed + TEST_SEED_STEP)

    def probe(a: torch.Tensor, b: torch.Tensor) -> float:
        return linear_probe(a, ds.y_train, b, ds.y_test, seed=c.seed, **settings)

    per_layer = [probe(a, b) for a, b in zip(f_train, f_test)]
    joint = probe(torch.cat(f_train, 1), torch.cat(f_test, 1)) if combined and len(f_train) > 1 else None
    return ProbeAccuracies(per_layer, joint)


@dataclass(frozen=True)
class TrainedVsRandom:
    """The per-layer probes of a trained net and of the same net at its random initialisation."""

    trained: engine.Trained
    probe_trained: ProbeAccuracies
    probe_random: ProbeAccuracies
    train_seconds: float  # wall time of ``engine.train`` (its test evaluation included, the probes not)


def probe_trained_and_random(
    config: FFConfig,
    dataset: Dataset | None = None,
    combined: bool = False,
    progress: bool = True,
    **probe: Any,
) -> TrainedVsRandom:
    """Train ``config`` and probe every layer of the trained net and of the net training started
    from (``engine.create`` with the same seed). The random net is the control (the SCFF
    paper's): a wide random projection is often linearly separable already, so what training
    added is the difference. ``probe``: ``solver``/``dropout``/``epochs`` as in ``probe_accuracies``."""
    ds = engine.prepare_dataset(config, dataset)
    # the net train() starts from: created on the samples it trains on (the kept ones with --validation)
    random = probe_accuracies(engine.create(config, engine.split_dataset(config, ds)[0]), ds, combined, **probe)
    start = time.perf_counter()
    trained = engine.train(config, dataset=ds, progress=progress)
    seconds = time.perf_counter() - start
    return TrainedVsRandom(trained, probe_accuracies(trained, ds, combined, **probe), random, seconds)


# ---------------------------------------------------------------- contrastive-Hebbian features vs backprop's


def contrastive_layer_losses(model: ContrastiveHebbianNet, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """The contrastive-Hebbian rule's own objective on every hidden layer: the contrastive loss
    (``contrastive_loss``) of the layer's outputs for samples ``x`` with labels ``y``, 0 when
    same-class outputs are parallel and other classes orthogonal."""
    m_pos, m_neg = pair_masks(y)
    return [float(contrastive_loss(h, m_pos, m_neg)) for h in model.latents(x)["activations"]]


@dataclass(frozen=True)
class FeatureQuality:
    """The contrastive-Hebbian net and backprop's net on the same layers after ``steps`` mini-batches."""

    steps: int
    layer_losses: list[float]  # the rule's contrastive loss per hidden layer
    probe_rule: float  # linear probe of the rule net's last hidden layer
    probe_backprop: float  # linear probe of the backprop net's last hidden layer


def rule_vs_backprop_features(
    config: FFConfig,
    steps: int,
    dataset: Dataset | None = None,
    n_probe_train: int = 10_000,
    n_probe_test: int = 2000,
    n_loss_samples: int = 256,
    backprop_lr: float = 1e-3,
    **probe: Any,
) -> list[FeatureQuality]:
    """Are the contrastive-Hebbian rule's hidden features better than random ones, and than
    backprop's? At initialisation and after ``steps`` mini-batches: the rule (``config``, one
    epoch on the first steps × batch training samples) and backprop on the same layers with the
    rule's activation (Adam ``backprop_lr``, one epoch on the same samples), both from their
    seeded initialisation. Measured each time: the rule's contrastive loss per hidden layer on
    the first ``n_loss_samples`` test samples, and ``linear_probe`` (``probe``: ``solver``,
    ``dropout``, ``epochs``; default logreg) of each net's last hidden layer, trained on the first
    ``n_probe_train`` training samples and tested on the first ``n_probe_test`` test samples."""
    if config.rule != "contrastive-hebbian":
        raise NeuroffError(f"the feature comparison reads the contrastive-Hebbian loss; got rule {config.rule!r}")
    if steps < 1:
        raise NeuroffError(f"steps={steps} must be >= 1")
    config = dataclasses.replace(config, epochs=1)
    ds = engine.prepare_dataset(config, dataset)
    batch = config.batch_size
    if batch is None:  # the backprop net trains the same mini-batches, so their size must be known here
        raise NeuroffError("the feature comparison trains mini-batches; set the config's batch_size")
    if steps * batch > ds.n_train:
        raise NeuroffError(f"{steps} mini-batches of {batch} need {steps * batch} training samples; {ds.name} has {ds.n_train}")
    seen = ds.subset(steps * batch, None)
    shown = ds.subset(min(n_probe_train, ds.n_train), min(n_probe_test, ds.n_test))
    x_loss, y_loss = ds.x_test[:n_loss_samples], ds.y_test[:n_loss_samples]
    spec = network_spec(config, ds.n_features)

    def measure(after: int, rule_net: engine.Trained, bp: BackpropNet) -> FeatureQuality:
        def probe_of(f_train: torch.Tensor, f_test: torch.Tensor) -> float:
            return linear_probe(f_train, shown.y_train, f_test, shown.y_test, seed=config.seed, **probe)

        with torch.no_grad():
            f_bp = (bp.hidden_features(shown.x_train), bp.hidden_features(shown.x_test))
        return FeatureQuality(
            steps=after,
            layer_losses=contrastive_layer_losses(rule_net.model, x_loss, y_loss),
            probe_rule=probe_of(*(layer_features(rule_net, x, layers=[-1])[0] for x in (shown.x_train, shown.x_test))),
            probe_backprop=probe_of(*f_bp),
        )

    bp = BackpropNet(spec, ds.n_classes, torch.Generator().manual_seed(config.seed), config.ch_activation)
    before = measure(0, engine.create(config, seen), bp)
    trained = engine.train(config, dataset=seen, progress=False)
    empty_x, empty_y = ds.x_test[:0], ds.y_test[:0]  # no validation split: no early stopping
    train_backprop(spec, seen.x_train, seen.y_train, empty_x, empty_y, ds.n_classes, epochs=1, batch_size=batch,
                   lr=backprop_lr, seed=config.seed, progress=False, model=bp)  # fmt: skip
    return [before, measure(steps, trained, bp)]
