"""The SCFF rules: layer-wise self-contrastive training (``neuroff.families.scff.model``).

SCFF consumes raw samples (``Consumes.SAMPLES``): the engine hands the rule ``Batch(x)`` and the
rule makes its own pairs from it. Layers are trained one after another: in epoch e only layer
``trainable_layer(e, E, L)`` learns (the engine calls ``on_epoch_start(e)`` before each epoch), the layers below it are frozen and only
compute its input, the layers above it are not run.

``SCFFRule`` (analog): per mini-batch the model returns the goodness of the trained layer for
its positives and negatives (``layer_goodness``: per sample for a dense layer, per position for
a conv layer, per step and direction for the Bi-RNN), and that layer descends its own loss
``scff_loss`` by autograd (its input is detached), one optimiser per layer.
``SpikingSCFFRule``: the neo-Hebbian rule in the LIF stack, torch reference path
(``SpikingFFNet.present``, batch-averaged updates); positives then negatives of a mini-batch are
presented with s = 1 / s = 0 and SCFF's third factor (``SpikingSCFFNet.third_factor``).
"""

from __future__ import annotations

import torch

from neuroff.families.base import Batch, LRSchedule, RuleBase, StepStats
from neuroff.families.optimizers import LocalOptimizers
from neuroff.families.scff.model import (
    SCFFNet,
    SpikingSCFFNet,
    pair_shift,
    scff_loss,
    trainable_layer,
)


class SCFFRule(LocalOptimizers):
    name = "scff"

    def __init__(
        self,
        model: SCFFNet,
        optimizer: str = "adam",
        lr: float | list[float] = 0.003,
        batch_size: int = 64,
        thresholds: tuple[float, float] | list[tuple[float, float]] = (1.0, 2.0),
        lam: float | list[float] = 0.001,
        epochs_per_layer: int = 1,
        schedule: LRSchedule = LRSchedule(),
    ) -> None:
        """``lr``, ``thresholds`` (θ⁺, θ⁻) and ``lam``: one value for every layer, or a list with one per layer."""
        n = len(model.units)
        self.lrs = list(lr) if isinstance(lr, list) else [lr] * n
        super().__init__(model.units, optimizer, self.lrs[0], batch_size, schedule)
        for opt, layer_lr in zip(self.optimizers, self.lrs):
            for group in opt.param_groups:
                group["lr"] = layer_lr
        self.thresholds = list(thresholds) if isinstance(thresholds, list) else [thresholds] * n
        self.lams = list(lam) if isinstance(lam, list) else [lam] * n
        self.epochs_per_layer = epochs_per_layer
        self.layer = 0

    def on_epoch_start(self, epoch: int) -> None:
        """Only the trained layer's rate matters; its --lr-decay schedule starts again at each
        layer (epoch − layer·E), as when the authors train every layer in a run of its own."""
        self.layer = trainable_layer(epoch, self.epochs_per_layer, len(self.optimizers))
        own_epoch = epoch - self.layer * self.epochs_per_layer
        for opt, layer_lr in zip(self.optimizers, self.lrs):
            for group in opt.param_groups:
                group["lr"] = layer_lr * self.schedule.scale(own_epoch)

    def update(self, model: SCFFNet, part: Batch) -> StepStats:
        m, layer = len(part), {"layer": float(self.layer)}
        if m < 2:
            return StepStats(m, 0.0, None, layer)  # a lone sample has no partner for its negative
        g_pos, g_neg = model.layer_goodness(self.layer, part.x, part.generator)
        loss = self.descend(self.layer, scff_loss(g_pos, g_neg, *self.thresholds[self.layer], self.lams[self.layer]))
        # a pair is "correct" when the positive's mean goodness exceeds its negative's
        correct = float((g_pos.detach().reshape(m, -1).mean(1) > g_neg.detach().reshape(m, -1).mean(1)).sum())
        return StepStats(m, correct, loss, layer)


class SpikingSCFFRule(RuleBase):
    name = "scff-neo-hebbian"

    def __init__(self, batch_size: int = 32, epochs_per_layer: int = 1, schedule: LRSchedule = LRSchedule()) -> None:
        self.batch_size = batch_size
        self.epochs_per_layer = epochs_per_layer
        self.schedule = schedule
        self.lr_scale = 1.0
        self.epoch = 0

    def on_epoch_start(self, epoch: int) -> None:
        self.epoch, self.lr_scale = epoch, self.schedule.scale(epoch)

    def step(self, model: SpikingSCFFNet, batch: Batch) -> StepStats:
        x_pos, generator = batch.x, batch.generator
        layer = trainable_layer(self.epoch, self.epochs_per_layer, model.n_layers)
        model.plastic_layer = layer
        # only the plastic layer keeps an eligibility trace: with M = 0 and E = 0 the others cannot change
        for i in range(model.n_layers):
            if i != layer:
                model.set_layer(i, model.weights[i], torch.zeros_like(model.eligibilities[i]))
        plasticity = model.plasticity._replace(lr=model.config.lr * self.lr_scale)
        n, correct = x_pos.shape[0], 0.0
        for lo in range(0, n, self.batch_size):
            x = x_pos[lo : lo + self.batch_size]
            m = x.shape[0]
            if m < 2:
                continue
            partner = pair_shift(m, generator)
            g = []
            for xc, s in ((x, 1.0), (x[partner], 0.0)):
                out = model.present(model.pair_spikes(x, xc, generator), torch.full((m,), s, dtype=torch.float64), plasticity)
                g.append((out.traces[layer] ** 2).mean(-1))
            correct += float((g[0] > g[1]).sum())
        return StepStats(n, correct, None, {"layer": float(layer)})
