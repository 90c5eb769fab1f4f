"""The analog FF rule: each layer descends its own FF loss by autograd (no gradient between
layers, see ``AnalogFFNet.layer_input``). With SGD this is the same update as the neo-Hebbian
rule with c = 2 * lr (``test_rule_equals_autograd``)."""

from __future__ import annotations

import torch

from neuroff.core.goodness import ff_loss
from neuroff.families.base import Batch, LRSchedule, StepStats
from neuroff.families.ff.model import AnalogFFNet
from neuroff.families.optimizers import LocalOptimizers


class FFAutogradRule(LocalOptimizers):
    name = "ff-autograd"

    def __init__(
        self, model: AnalogFFNet, optimizer: str = "adam", lr: float = 0.003, batch_size: int = 64,
        schedule: LRSchedule = LRSchedule(),
    ) -> None:
        super().__init__(model.layers, optimizer, lr, batch_size, schedule)

    def update(self, model: AnalogFFNet, part: Batch) -> StepStats:
        m = len(part)
        z = torch.cat([part.x, part.x_neg])
        s = torch.cat([torch.ones(m), torch.zeros(m)])
        loss_sum = 0.0
        for i, layer in enumerate(model.layers):
            z = torch.relu(layer(model.layer_input(z, i)))
            loss_sum += self.descend(i, ff_loss(z, s, model.head).mean())
        with torch.no_grad():
            p = torch.exp(-ff_loss(z, torch.ones_like(s), model.head))
        return StepStats(m, float((p[:m] > p[m:]).sum()), loss_sum)

