"""Plain backprop on the same architecture: the reference every local rule is compared with.

``BackpropNet`` stacks the layers of a block spec (``neuroff.layers.spec``: dense and conv, the
blocks merged into one chain) and a linear classifier; ``train_backprop`` minimises the
cross-entropy end to end with Adam on the raw (label-free) input, with optional early stopping
on a validation split. It is deliberately ordinary torch: a baseline, not a neuroff rule. For a
plain MLP of hidden sizes [200, 200] use ``blocks_from_layers(784, [200, 200])``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from neuroff.errors import NeuroffError
from neuroff.layers.build import build_layer, layer_forward
from neuroff.layers.spec import BlockSpec, Dense, Layer, layer_shapes
from neuroff.studies.early_stopping import EarlyStopping

ACTIVATIONS = ("relu", "tanh")


class BackpropNet(nn.Module):
    """ReLU (or tanh) layers of ``spec`` (all blocks in one chain) followed by a linear classifier."""

    def __init__(
        self, spec: BlockSpec, n_classes: int, generator: torch.Generator, activation: str = "relu", dropout: float = 0.0
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise NeuroffError(f"unknown backprop activation {activation!r}; use one of {', '.join(ACTIVATIONS)}")
        if not 0.0 <= dropout < 1.0:
            raise NeuroffError(f"backprop dropout {dropout} must lie in [0, 1)")
        self.activation, self.dropout = activation, float(dropout)
        self.input_shape = spec.input_shape
        self.layer_specs: list[Layer] = spec.layers
        shapes = [spec.input_shape, *layer_shapes(spec)]
        self.hidden = nn.ModuleList(build_layer(layer, shape, generator) for layer, shape in zip(self.layer_specs, shapes))
        self.classifier = build_layer(Dense(n_classes), shapes[-1], generator)

    def hidden_features(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The last hidden layer's output [B, F] (flattened) of a flat input batch [B, D]; with a
        ``generator`` (training) every hidden output is dropped out (``dropout``), masks drawn from it."""
        h = x.reshape(-1, *self.input_shape)
        for module, layer in zip(self.hidden, self.layer_specs):
            h = layer_forward(module, layer, h, self.activation)
            if generator is not None and self.dropout > 0.0:
                h = h * (torch.rand(h.shape, generator=generator) >= self.dropout).to(h.dtype) / (1.0 - self.dropout)
        return h.flatten(1)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Logits [B, C] of a flat input batch [B, D] (``generator``: training, see ``hidden_features``)."""
        return self.classifier(self.hidden_features(x, generator))


@dataclass
class BackpropResult:
    model: BackpropNet
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    if len(x) == 0:
        return float("nan")
    pred = torch.cat([model(x[i : i + batch]).argmax(1) for i in range(0, len(x), batch)])
    return float((pred == y).float().mean())


def train_backprop(
    spec: BlockSpec,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    n_classes: int,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    patience: int | None = None,
    progress: bool = True,
    model: BackpropNet | None = None,
    activation: str = "relu",
    dropout: float = 0.0,
) -> BackpropResult:
    """Adam on the cross-entropy for up to ``epochs`` epochs; after each epoch the validation
    accuracy is recorded, and with ``patience`` training stops early. The returned model holds
    the weights of the best validation epoch. ``model`` continues training an existing net (as
    the continual-learning protocol does, task after task) instead of a fresh one; ``activation``
    ("relu" or "tanh") and ``dropout`` (on every hidden output while training) apply to a fresh one."""
    if x_train.shape[1] != spec.n_inputs:
        raise NeuroffError(f"the backprop net expects {spec.n_inputs} input features, the data has {x_train.shape[1]}")
    if epochs < 1 or batch_size < 1:
        raise NeuroffError("epochs and batch_size must be >= 1")
    generator = torch.Generator().manual_seed(seed)
    model = BackpropNet(spec, n_classes, generator, activation, dropout) if model is None else model
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    stopper = EarlyStopping(patience)
    result = BackpropResult(model)
    n = len(x_train)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(n, generator=generator)
        loss_sum = 0.0
        for lo in tqdm(range(0, n, batch_size), desc=f"backprop epoch {epoch}/{epochs}", disable=not progress, leave=False):
            idx = order[lo : lo + batch_size]
            loss = F.cross_entropy(model(x_train[idx], generator), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(idx)
        seconds = time.perf_counter() - start
        val = accuracy(model, x_val, y_val)
        result.history.append(
            {"epoch": epoch, "train_seconds": round(seconds, 3), "train_loss": loss_sum / n, "val_accuracy": val}
        )
        if not math.isfinite(loss_sum):
            raise NeuroffError("backprop training diverged (non-finite loss); lower --bp-lr")
        if stopper.update(val, epoch, model):
            break
    stopper.restore(model)
    result.best_epoch = stopper.best_epoch
    return result

